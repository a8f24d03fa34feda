// libFuzzer harness: a chunk record header and its payload (`Spec/FORMAT.md` §4): the record
// decoder, then the codec, checksum and unshuffle of the payload into a buffer of exactly the
// record's raw length. Input: 48 header bytes, then the payload.
// Each input is tried as is, with both checksums re-sealed, and with the stored length set to
// the payload's actual length too (so mutations reach the decompressors).
import FuzzSupport
import RowpackFormat

@testable import Rowpack

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunkRecord(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var bytes = inputBytes(start, count)
    checkRecord(bytes)
    guard bytes.count >= ChunkRecord.size else { return 0 }
    let payloadCRC = CRC32C.checksum(bytes[ChunkRecord.size...])
    storeUInt32(payloadCRC, into: &bytes, at: 40)
    reseal(&bytes, from: 0, crcAt: 44)
    checkRecord(bytes)
    let stored = UInt64(bytes.count - ChunkRecord.size)
    for i in 0..<8 { bytes[24 + i] = UInt8(truncatingIfNeeded: stored >> (8 * i)) }
    reseal(&bytes, from: 0, crcAt: 44)
    checkRecord(bytes)
    return 0
}

/// Raw chunks larger than this are not decoded here (they only cost memory); the reader's
/// bounds for them are tested in ReliabilityTests.
let maxRawBytes = 4 << 20

func checkRecord(_ bytes: [UInt8]) {
    let record: ChunkRecord
    do { record = try ChunkRecord(decoding: bytes) } catch { return }
    invariant(
        record.storedLength <= ChunkRecord.maxStoredLength(rawLength: record.rawLength), "stored length over its bound")
    invariant(record.rawLength <= FormatLimits.maxChunkBytes, "raw length over the limit")
    let again = try? ChunkRecord(decoding: record.encoded())
    invariant(again == record, "record round trip: \(record) vs \(String(describing: again))")
    // As the reader does: check the payload (length, checksum, framing) before allocating the
    // output, then decode into exactly rawLength bytes.
    let payload = Array(bytes.dropFirst(ChunkRecord.size))
    let checked = payload.withUnsafeBytes { raw in
        do throws(FormatError) {
            try record.check(payload: raw)
            invariant(raw.count == record.storedLength, "accepted a payload of the wrong length")
            return true
        } catch {
            invariant(error.chunk == record.chunk, "a payload error does not name its chunk: \(error)")
            return false
        }
    }
    guard checked, record.rawLength <= maxRawBytes else { return }
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: record.rawLength, alignment: 16)
    defer { output.deallocate() }
    payload.withUnsafeBytes { raw in
        do throws(FormatError) {
            try record.decode(checkedPayload: raw, into: output)
        } catch {
            invariant(error.chunk == record.chunk, "a payload error does not name its chunk: \(error)")
        }
    }
}
