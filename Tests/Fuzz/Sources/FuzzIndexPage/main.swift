// libFuzzer harness: index leaf and root pages (`Spec/FORMAT.md` §5).
// Input: 1 byte (bit 0: root rather than leaf), the page's limit (u64, the page's own offset),
// the floor (u64, the header length), then the page. Tried as is and with its CRC re-sealed.
import FuzzSupport
import RowpackFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIndexPage(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = inputBytes(start, count)
    guard bytes.count >= 17 else { return 0 }
    let kind: IndexPage.Kind = bytes[0] & 1 == 0 ? .leaf : .root
    let limit = Int(truncatingIfNeeded: loadUInt64(bytes, at: 1) ?? 0)
    let floor = Int(truncatingIfNeeded: loadUInt64(bytes, at: 9) ?? 0)
    var page = Array(bytes[17...])
    checkPage(page, kind: kind, floor: floor, limit: limit)
    if page.count >= 4, reseal(&page, from: 0, crcAt: page.count - 4) {
        checkPage(page, kind: kind, floor: floor, limit: limit)
    }
    return 0
}

func checkPage(_ page: [UInt8], kind: IndexPage.Kind, floor: Int, limit: Int) {
    let decoded: IndexPage
    do { decoded = try IndexPage(decoding: page, kind: kind, floor: floor, limit: limit) } catch { return }
    invariant(decoded.kind == kind, "decoded a \(decoded.kind) page as \(kind)")
    invariant(page.count == IndexPage.length(entries: decoded.entries.count), "page length does not match its count")
    var previousEnd = floor
    for entry in decoded.entries {
        invariant(
            entry.length > 0 && entry.offset >= previousEnd, "entries overlap or go backwards: \(decoded.entries)")
        invariant(
            rangeFits(start: entry.offset, length: entry.length, within: limit),
            "entry \(entry) beyond the limit \(limit)")
        previousEnd = entry.end
    }
    let again = try? IndexPage(decoding: decoded.encoded(), kind: kind, floor: floor, limit: limit)
    invariant(again == decoded, "page round trip changed it")
}
