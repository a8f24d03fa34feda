// libFuzzer harness: the container file header (`Spec/FORMAT.md` §3).
// Input: the header bytes. Each input is tried as is and with its checksum re-sealed.
import FuzzSupport
import RowpackFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFileHeader(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var bytes = inputBytes(start, count)
    checkHeader(bytes)
    if let length = loadUInt32(bytes, at: 12).map(Int.init), length >= 8, length <= bytes.count,
        reseal(&bytes, from: 0, crcAt: length - 4)
    {
        checkHeader(bytes)
    }
    return 0
}

func checkHeader(_ bytes: [UInt8]) {
    let length = try? FileHeader.length(prefix: Array(bytes.prefix(FileHeader.prefixBytes)))
    let header: FileHeader
    do { header = try FileHeader(decoding: bytes) } catch { return }
    invariant(
        length == header.byteCount, "length(prefix:) \(String(describing: length)) != byteCount \(header.byteCount)")
    invariant(header.rowBytes > 0 && header.rowsPerChunk >= 1, "accepted a header with empty rows or chunks")
    let (chunkBytes, overflow) = header.rowsPerChunk.multipliedReportingOverflow(by: header.rowBytes)
    invariant(
        !overflow && chunkBytes <= FormatLimits.maxChunkBytes,
        "accepted a chunk of \(header.rowsPerChunk) × \(header.rowBytes) bytes")
    // What a writer would write from the decoded values decodes to the same values.
    let encoded = header.encoded()
    let again: FileHeader
    do { again = try FileHeader(decoding: encoded) } catch {
        invariant(false, "the re-encoded header does not decode: \(error)")
        return
    }
    invariant(
        again.byteCount == encoded.count, "re-encoded length \(encoded.count), decoded byteCount \(again.byteCount)")
    invariant(
        again.uuid == header.uuid && again.dtype == header.dtype && again.rowShape == header.rowShape
            && again.rowsPerChunk == header.rowsPerChunk && again.codec == header.codec && again.level == header.level
            && again.filter == header.filter && again.leafCapacity == header.leafCapacity
            && again.minorVersion == header.minorVersion && again.rowBytes == header.rowBytes,
        "header round trip changed a value: \(header) vs \(again)")
}
