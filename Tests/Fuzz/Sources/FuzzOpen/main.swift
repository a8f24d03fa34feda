import FuzzSupport
import Rowpack
import RowpackFormat

// libFuzzer harness: a whole container file, through the public API, as a user would meet it:
// open (header, newest valid commit, backward scan), read every row, single-row and gather
// reads, verify, and then append one row with a writer and check nothing committed was lost.
// Input: the file. Each input is tried as is and with the header, root and last trailer
// checksums re-sealed (so mutations reach the checks behind them).
#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpen(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = inputBytes(start, count)
    checkContainer(bytes)
    if let resealed = resealed(bytes) { checkContainer(resealed) }
    return 0
}


/// Chunks larger than this are not read here: decoding one allocates it whole (a legitimate
/// cost for a real 2 GiB chunk); the reader's behaviour with such claims is tested in
/// ReliabilityTests.
let maxChunkBytes = 1 << 20
/// Containers with more raw bytes than this are read only in part.
let maxReadBytes = 8 << 20

func checkContainer(_ bytes: [UInt8]) {
    guard Scratch.write(bytes) else { fatalError("cannot write \(Scratch.path)") }
    let reader: ContainerReader
    do { reader = try ContainerReader(path: Scratch.path, cacheBytes: 1 << 20) } catch {
        invariant(error is RowpackError, "open threw \(type(of: error)): \(error)")
        return
    }
    let header = reader.header
    let rows = reader.rowCount
    let commit = reader.commit
    invariant(
        commit.committedLength <= bytes.count, "commit ends at \(commit.committedLength) past the file (\(bytes.count))"
    )
    invariant(commit.rows == rows && reader.chunkCount == commit.chunks, "reader disagrees with its commit")
    guard header.rowsPerChunk * header.rowBytes <= maxChunkBytes else { return }

    let readable = min(rows, maxReadBytes / header.rowBytes)
    let data: [UInt8]?
    do { data = try reader.read(rows: 0..<readable) } catch {
        invariant(error is RowpackError, "read threw \(type(of: error))")
        data = nil
    }
    if let data, readable > 0 {
        invariant(data.count == readable * header.rowBytes, "read returned \(data.count) bytes")
        for index in Set([0, readable / 2, readable - 1]) {
            let row = try? reader.withRow(index) { Array($0) }
            invariant(
                row == Array(data[index * header.rowBytes..<(index + 1) * header.rowBytes]),
                "row \(index) differs from the range read")
        }
        let picks = [readable - 1, 0, readable / 3]
        let gathered = try? reader.gather(rows: picks)
        invariant(
            gathered == picks.flatMap { data[$0 * header.rowBytes..<($0 + 1) * header.rowBytes] },
            "gather differs from the range read")
    }
    guard rows * header.rowBytes <= maxReadBytes else { return }
    let problems = reader.verify()
    for problem in problems { invariant(!problem.message.isEmpty, "an empty problem report") }
    invariant(
        problems.isEmpty == (data != nil),
        "verify found \(problems.count) problems, the full read \(data == nil ? "failed" : "succeeded")")
    guard let data, problems.isEmpty else { return }
    if let damage = reader.damagedCommit {
        // A damaged newer commit is reported, never cut without being told (Spec/FORMAT.md §8.6).
        invariant(damage.trailerOffset >= commit.committedLength, "the damaged commit is not above the one opened")
        let refused = (try? ContainerWriter.open(at: Scratch.path, options: WriterOptions(durability: .none))) == nil
        invariant(refused, "a writer opened a container whose newest commit is damaged")
        return
    }

    // A sound container takes one more row, and keeps every row it had.
    let writer: ContainerWriter
    do { writer = try ContainerWriter.open(at: Scratch.path, options: WriterOptions(durability: .none)) } catch {
        invariant(false, "a container that verifies cannot be opened for appending: \(error)")
        return
    }
    let extra = (0..<header.rowBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    do {
        try writer.append(rawRows: extra)
        try writer.close()
    } catch {
        invariant(false, "appending to a sound container failed: \(error)")
    }
    do {
        let after = try ContainerReader(path: Scratch.path, cacheBytes: 0)
        invariant(after.rowCount == rows + 1, "after appending one row: \(after.rowCount) rows, expected \(rows + 1)")
        invariant(after.commit.sequence == commit.sequence + 1, "the append is not the next commit")
        let content = try after.read(rows: 0..<(rows + 1))
        invariant(content == data + extra, "appending changed committed rows")
        invariant(after.verify().isEmpty, "the container does not verify after an append")
    } catch {
        invariant(false, "the container does not read back after an append: \(error)")
    }
}

/// The input with the checksums of its header, of the root its last 128 bytes name and of
/// those 128 bytes (as a trailer) recomputed; nil when nothing changed.
func resealed(_ input: [UInt8]) -> [UInt8]? {
    var bytes = input
    var changed = false
    if let length = loadUInt32(bytes, at: 12).map(Int.init), length >= 8, length <= bytes.count {
        changed = reseal(&bytes, from: 0, crcAt: length - 4) || changed
    }
    let trailer = bytes.count - CommitTrailer.size
    guard trailer >= 16 else { return changed ? bytes : nil }
    if let rootOffset = loadUInt64(bytes, at: trailer + 40).flatMap({ Int(exactly: $0) }),
        let rootLength = loadUInt64(bytes, at: trailer + 48).flatMap({ Int(exactly: $0) }),
        rootLength >= 20, rangeFits(start: rootOffset, length: rootLength, within: trailer)
    {
        changed = reseal(&bytes, from: rootOffset, crcAt: rootOffset + rootLength - 4) || changed
        let rootCRC = CRC32C.checksum(bytes[rootOffset..<rootOffset + rootLength - 4])
        if loadUInt32(bytes, at: trailer + 104) != rootCRC {
            storeUInt32(rootCRC, into: &bytes, at: trailer + 104)
            changed = true
        }
    }
    changed = reseal(&bytes, from: trailer, crcAt: trailer + 116) || changed
    return changed ? bytes : nil
}
