// libFuzzer harness: `.npy` headers (magic, version, length, the Python dict literal).
// Input: the start of a .npy file.
import FuzzSupport
import RowpackFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpyHeader(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = inputBytes(start, count)
    _ = try? NpyHeader.headerLength(prefix: bytes)
    let header: NpyHeader
    do { header = try NpyHeader(parsing: bytes) } catch { return 0 }
    invariant(header.dataOffset <= bytes.count, "header longer than the input")
    invariant(header.shape.allSatisfy { $0 >= 0 }, "negative dimension \(header.shape)")
    var product = header.dtype.itemSize
    for dim in header.shape {
        let (next, overflow) = product.multipliedReportingOverflow(by: dim)
        invariant(!overflow, "shape \(header.shape) overflows")
        product = next
    }
    invariant(product == header.dataByteCount, "dataByteCount \(header.dataByteCount) != \(product)")
    let (rowsBytes, rowsOverflow) = header.rowBytes.multipliedReportingOverflow(by: header.rows)
    invariant(!rowsOverflow && rowsBytes == header.dataByteCount, "rowBytes \(header.rowBytes) × rows != dataByteCount")
    // numpy's canonical header for the same array parses back to the same array.
    if let canonical = try? NpyHeader.canonical(
        dtype: header.dtype, shape: header.shape, fortranOrder: header.fortranOrder)
    {
        let back = try? NpyHeader(parsing: canonical)
        invariant(back != nil, "the canonical header does not parse: \(header.dtype) \(header.shape)")
        if let back {
            invariant(
                back.dtype == header.dtype && back.shape == header.shape && back.fortranOrder == header.fortranOrder,
                "canonical header round trip changed the array")
            invariant(back.hasCanonicalLength, "canonical header is not of canonical length")
            invariant(
                back.dataOffset == canonical.count && canonical.count % 64 == 0, "canonical header is not 64-aligned")
        }
    }
    // Rewriting the shape in place keeps the header's length and parses back.
    if let rewritten = try? header.withShape(header.shape) {
        invariant(rewritten.count == header.dataOffset, "withShape changed the header length")
        let back = try? NpyHeader(parsing: rewritten)
        invariant(
            back?.dtype == header.dtype && back?.shape == header.shape && back?.fortranOrder == header.fortranOrder,
            "withShape round trip changed the array")
    }
    return 0
}
