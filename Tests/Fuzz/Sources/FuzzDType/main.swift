// libFuzzer harness: numpy dtype descr literals and type names (`Spec/FORMAT.md` §10).
// Input: the text (invalid UTF-8 is repaired, as a header's bytes would be after validation).
import FuzzSupport
import RowpackFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDType(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let text = String(decoding: inputBytes(start, count), as: UTF8.self)
    if let dtype = try? DType(descr: text) { checkCanonical(dtype) }
    if let dtype = try? DType(numpy: text) { checkCanonical(dtype) }
    return 0
}

/// The canonical text parses back to the same dtype (canonicalization is idempotent).
func checkCanonical(_ dtype: DType) {
    invariant(dtype.itemSize >= 0 && dtype.itemSize <= DType.maximumItemSize, "item size \(dtype.itemSize)")
    invariant(
        dtype.shuffleElementSize >= 1 && dtype.shuffleElementSize <= 65535, "shuffle width \(dtype.shuffleElementSize)")
    let again: DType
    do { again = try DType(descr: dtype.descr) } catch {
        invariant(false, "canonical descr \(dtype.descr) does not parse: \(error)")
        return
    }
    invariant(again == dtype, "descr \(dtype.descr) canonicalizes to \(again.descr)")
    invariant(
        again.itemSize == dtype.itemSize && again.isStructured == dtype.isStructured
            && again.shuffleElementSize == dtype.shuffleElementSize,
        "descr \(dtype.descr) changes size or kind when parsed again")
}
