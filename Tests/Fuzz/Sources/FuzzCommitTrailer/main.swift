// libFuzzer harness: the commit trailer (`Spec/FORMAT.md` §6).
// Input: 128 trailer bytes, then optionally rows per chunk (u32) and row bytes (u32) of the
// file header it is checked against. The header takes its UUID from the trailer and the
// trailer's offset is where its own committedLength puts it, so mutations get past those two
// checks. Tried as is and with the trailer's CRC re-sealed.
import FuzzSupport
import RowpackFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommitTrailer(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = inputBytes(start, count)
    guard bytes.count >= CommitTrailer.size else { return 0 }
    var trailer = Array(bytes[0..<CommitTrailer.size])
    let rowsPerChunk = max(1, Int(loadUInt32(bytes, at: 128) ?? 4))
    let rowBytes = max(1, Int((loadUInt32(bytes, at: 132) ?? 12) % (1 << 16)))
    let header =
        (try? FileHeader(
            uuid: Array(trailer[80..<96]), dtype: .uint8, rowShape: [rowBytes], rowsPerChunk: rowsPerChunk,
            codec: .zstd, level: 1, filter: .none))
        ?? (try! FileHeader(
            uuid: Array(trailer[80..<96]), dtype: .uint8, rowShape: [12], rowsPerChunk: 4, codec: .zstd, level: 1,
            filter: .none))
    let committedLength = Int(truncatingIfNeeded: loadUInt64(trailer, at: 64) ?? 0)
    let offset = committedLength >= CommitTrailer.size ? committedLength - CommitTrailer.size : 0
    checkTrailer(trailer, at: offset, header: header)
    if reseal(&trailer, from: 0, crcAt: 116) { checkTrailer(trailer, at: offset, header: header) }
    return 0
}

func checkTrailer(_ bytes: [UInt8], at offset: Int, header: FileHeader) {
    let trailer: CommitTrailer
    do { trailer = try CommitTrailer(decoding: bytes, at: offset, header: header) } catch { return }
    invariant(
        trailer.offset == offset && trailer.committedLength == offset + CommitTrailer.size, "trailer not at its offset")
    invariant(trailer.root.offset >= header.byteCount, "root inside the header")
    invariant(
        rangeFits(start: trailer.root.offset, length: trailer.root.length, within: offset), "root beyond the trailer")
    invariant(trailer.previousTrailer < offset, "previous trailer does not point backwards")
    invariant(trailer.root.end == offset, "root does not end where the trailer starts")
    let (quotient, remainder) = trailer.rows.quotientAndRemainder(dividingBy: header.rowsPerChunk)
    invariant(trailer.chunks == quotient + (remainder > 0 ? 1 : 0), "chunk count does not match rows")
    invariant(!trailer.rows.multipliedReportingOverflow(by: header.rowBytes).overflow, "rows × rowBytes overflows")
    let again = try? CommitTrailer(decoding: trailer.encoded(), at: offset, header: header)
    invariant(again == trailer, "trailer round trip changed it")
}
