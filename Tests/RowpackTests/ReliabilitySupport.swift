import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

#if canImport(Glibc)
    import Glibc
#endif

// Helpers for ReliabilityTests: the writes of one commit and the files a crash could leave of
// them (some writes landed, others lost as zeros, holes, garbage or torn), what a reader must
// make of such a file, containers built structure by structure (to lie consistently), and
// running the `rowpack` CLI.

// MARK: - The writes of a commit

/// One structure a commit wrote, and where.
struct CommitWrite: CustomStringConvertible {
    enum Kind: Equatable {
        case record(chunk: Int)
        case leaf(index: Int)
        case root
        case trailer
    }

    var kind: Kind
    var extent: Extent

    var description: String {
        let what =
            switch kind {
            case .record(let chunk): "record of chunk \(chunk)"
            case .leaf(let index): "leaf \(index)"
            case .root: "root"
            case .trailer: "trailer"
            }
        return "\(what) at \(extent.offset)+\(extent.length)"
    }
}

/// The newest commit of `bytes`, the one before it, and the structures the newest one wrote, in
/// file order. Every byte between the two commits' ends belongs to exactly one of them.
func newestCommitWrites(_ bytes: [UInt8]) throws -> (
    previous: ParsedCommit, newest: ParsedCommit, writes: [CommitWrite]
) {
    let history = try parseCommitHistory(bytes)
    try #require(history.count >= 2)
    let previous = history[history.count - 2]
    let newest = history[history.count - 1]
    let start = previous.trailer.committedLength
    var writes: [CommitWrite] = []
    for (chunk, extent) in newest.chunks.enumerated() where extent.offset >= start {
        writes.append(CommitWrite(kind: .record(chunk: chunk), extent: extent))
    }
    for (index, extent) in newest.leaves.enumerated() where extent.offset >= start {
        writes.append(CommitWrite(kind: .leaf(index: index), extent: extent))
    }
    writes.append(CommitWrite(kind: .root, extent: newest.root))
    writes.append(CommitWrite(kind: .trailer, extent: newest.trailerExtent))
    writes.sort { $0.extent.offset < $1.extent.offset }
    var end = start
    for write in writes {
        #expect(write.extent.offset == end, "the commit's writes must tile its bytes: \(writes)")
        end = write.extent.end
    }
    #expect(end == bytes.count)
    return (previous, newest, writes)
}

/// How the bytes of a write that did not reach the disk look after the crash.
enum LostWrite: String, CaseIterable, CustomStringConvertible, Sendable {
    /// Zero bytes (a block allocated but never written).
    case zeros
    /// A hole: the file has its length but the range was never written (reads as zeros).
    case hole
    /// Whatever the block held before: random bytes.
    case garbage
    /// The first half of the write landed, the rest is zeros (a write torn at a sector).
    case torn

    var description: String { rawValue }
}

/// Writes to `path` the file a crash could leave of `truth`: everything before `writes`, then
/// of `writes` those whose index is in `landed` as written and the others lost as `loss` says.
/// Returns the file's content.
@discardableResult
func writeCrashImage(
    _ path: String, truth: [UInt8], writes: [CommitWrite], landed: Set<Int>, loss: LostWrite, seed: UInt64
) throws -> [UInt8] {
    var random = SeededRandom(seed: seed)
    let start = writes.first?.extent.offset ?? truth.count
    if loss == .hole {
        try writeFile(path, truth[0..<start])
        for (index, write) in writes.enumerated() where landed.contains(index) {
            try writeAt(path, offset: write.extent.offset, Array(truth[write.extent.offset..<write.extent.end]))
        }
        if try fileSize(path) < truth.count {
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: UInt64(truth.count))  // extends the file with a hole
            try handle.close()
        }
        let image = try fileBytes(path)
        #expect(image.count == truth.count)
        return image
    }
    var image = truth
    for (index, write) in writes.enumerated() where !landed.contains(index) {
        let range = write.extent.offset..<write.extent.end
        switch loss {
        case .zeros, .hole:
            image.replaceSubrange(range, with: repeatElement(0, count: range.count))
        case .garbage:
            image.replaceSubrange(range, with: random.bytes(range.count))
        case .torn:
            let kept = range.count / 2
            image.replaceSubrange(
                range.lowerBound + kept..<range.upperBound, with: repeatElement(0, count: range.count - kept))
        }
    }
    try writeFile(path, image)
    return image
}

/// What a reader made of a crash image.
enum CrashOutcome: Equatable {
    /// It opened the previous commit, intact.
    case previous
    /// It opened the previous commit, intact, and reported the newest as damaged: its trailer
    /// landed, its root did not.
    case damagedNewest
    /// It opened the newest commit; these chunks (and the chunks of these leaves) did not land.
    case newest(damagedChunks: [Int], damagedLeaves: [Int])
}

/// Checks what a reader makes of the crash image `image` of `truth` at `path`: it opens the
/// newest commit whose trailer and root are intact, otherwise the previous one; every chunk
/// read gives the true rows or fails `.corrupt` naming that chunk, exactly when its record or
/// its leaf did not land; `verify()` lists exactly the damaged leaves and chunks. When it fell
/// back, a writer cuts the torn commit, resumes from the previous one and appends.
@discardableResult
func expectCrashImageSafe(
    path: String, truth: [UInt8], image: [UInt8], previous: ParsedCommit, newest: ParsedCommit, data: [UInt8],
    _ comment: String, sourceLocation: SourceLocation = #_sourceLocation
) throws -> CrashOutcome? {
    func intact(_ extent: Extent) -> Bool { image[extent.offset..<extent.end] == truth[extent.offset..<extent.end] }
    let header = newest.header
    let rowBytes = header.rowBytes
    let reader: ContainerReader
    do { reader = try ContainerReader(path: path) } catch {
        Issue.record("\(comment): open failed: \(error)", sourceLocation: sourceLocation)
        return nil
    }
    guard intact(newest.trailerExtent) && intact(newest.root) else {
        #expect(reader.commit.sequence == previous.trailer.sequence, "\(comment)", sourceLocation: sourceLocation)
        #expect(reader.rowCount == previous.trailer.rows, "\(comment)", sourceLocation: sourceLocation)
        #expect(
            try readAll(reader) == Array(data[0..<previous.trailer.rows * rowBytes]), "\(comment)",
            sourceLocation: sourceLocation)
        #expect(reader.verify().isEmpty, "\(comment)", sourceLocation: sourceLocation)
        // A trailer that landed whole over a root that did not is damage, not a torn write
        // (only `fast` and `none` can leave it): readers say so and a writer refuses to cut it
        // unless told to. Anything else is a torn commit, cut silently.
        let damaged = intact(newest.trailerExtent)
        #expect(
            reader.damagedCommit?.trailerOffset == (damaged ? newest.trailer.offset : nil), "\(comment)",
            sourceLocation: sourceLocation)
        if damaged {
            expectRowpackError(.corrupt, "\(comment)", sourceLocation: sourceLocation) {
                _ = try ContainerWriter.open(at: path, options: WriterOptions(durability: .none))
            }
            #expect(
                try fileBytes(path) == image, "\(comment): refusing must not modify the file",
                sourceLocation: sourceLocation)
        }
        // A writer resumes from the previous commit: the torn one is cut, appending works.
        let writer = try ContainerWriter.open(
            at: path, options: WriterOptions(durability: .none, discardDamagedCommit: damaged))
        #expect(try fileSize(path) == previous.trailer.committedLength, "\(comment)", sourceLocation: sourceLocation)
        let more = SeededRandom(seed: UInt64(image.count)).bytesOf(rows: 3, rowBytes: rowBytes)
        try writer.append(rawRows: more)
        try writer.close()
        let after = try ContainerReader(path: path)
        #expect(
            try readAll(after) == Array(data[0..<previous.trailer.rows * rowBytes]) + more, "\(comment)",
            sourceLocation: sourceLocation)
        #expect(after.verify().isEmpty, "\(comment)", sourceLocation: sourceLocation)
        return damaged ? .damagedNewest : .previous
    }
    #expect(reader.commit.sequence == newest.trailer.sequence, "\(comment)", sourceLocation: sourceLocation)
    #expect(reader.rowCount == newest.trailer.rows, "\(comment)", sourceLocation: sourceLocation)
    #expect(reader.damagedCommit == nil, "\(comment)", sourceLocation: sourceLocation)
    let capacity = header.leafCapacity
    let damagedLeaves = newest.leaves.indices.filter { !intact(newest.leaves[$0]) }
    let damagedChunks = newest.chunks.indices.filter {
        !intact(newest.chunks[$0]) && !damagedLeaves.contains($0 / capacity)
    }
    let rows = newest.trailer.rows
    for chunk in newest.chunks.indices {
        let range = chunk * header.rowsPerChunk..<min(rows, (chunk + 1) * header.rowsPerChunk)
        let sound = !damagedLeaves.contains(chunk / capacity) && !damagedChunks.contains(chunk)
        do {
            let got = try reader.read(rows: range)
            #expect(
                sound, "\(comment): chunk \(chunk) did not land but read without error", sourceLocation: sourceLocation)
            #expect(
                got == Array(data[range.lowerBound * rowBytes..<range.upperBound * rowBytes]),
                "\(comment): chunk \(chunk) read WRONG DATA", sourceLocation: sourceLocation)
        } catch let error as RowpackError {
            #expect(!sound, "\(comment): chunk \(chunk) landed but failed: \(error)", sourceLocation: sourceLocation)
            #expect(error.code == .corrupt, "\(comment): \(error)", sourceLocation: sourceLocation)
            #expect(
                error.chunk == chunk, "\(comment): the error must name chunk \(chunk): \(error)",
                sourceLocation: sourceLocation)
        }
    }
    let problems = reader.verify()
    #expect(
        problems.count == damagedLeaves.count + damagedChunks.count, "\(comment): \(problems)",
        sourceLocation: sourceLocation)
    #expect(
        problems.compactMap(\.chunk).sorted() == damagedChunks, "\(comment): \(problems)",
        sourceLocation: sourceLocation)
    #expect(problems.allSatisfy { $0.code == .corrupt }, "\(comment): \(problems)", sourceLocation: sourceLocation)
    // A writer either opens (the tail chunk and the last leaf landed) or refuses with a
    // RowpackError; it never changes the committed bytes.
    do {
        _ = try ContainerWriter.open(at: path, options: WriterOptions(durability: .none))
    } catch let error as RowpackError {
        #expect(error.code == .corrupt, "\(comment): \(error)", sourceLocation: sourceLocation)
        #expect(
            !damagedLeaves.isEmpty || !damagedChunks.isEmpty, "\(comment): \(error)", sourceLocation: sourceLocation)
    }
    #expect(
        try fileBytes(path) == image, "\(comment): opening must not modify the file", sourceLocation: sourceLocation)
    return .newest(damagedChunks: damagedChunks, damagedLeaves: damagedLeaves)
}

extension SeededRandom {
    /// `rows` random rows of `rowBytes` bytes.
    func bytesOf(rows: Int, rowBytes: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(rows * rowBytes)
    }
}

/// Every subset of `0..<count`, as sets of indices.
func allSubsets(of count: Int) -> [Set<Int>] {
    (0..<(1 << count)).map { mask in Set((0..<count).filter { mask & (1 << $0) != 0 }) }
}

// MARK: - Containers built structure by structure

/// A chunk record (header and payload) whose every checksum is valid, saying what the caller
/// likes.
func handBuiltRecord(
    chunk: Int, rows: Int, rawLength: Int, payload: [UInt8], codec: ChunkCodec = .none, filter: ChunkFilter = .none,
    elementSize: Int = 1
) -> [UInt8] {
    ChunkRecord(
        chunk: chunk, rows: rows, rawLength: rawLength, storedLength: payload.count, codec: codec, level: 0,
        filter: filter,
        elementSize: elementSize, payloadChecksum: CRC32C.checksum(payload)
    ).encoded() + payload
}

/// A one-commit container with `header`, these encoded chunk records (in chunk order), leaves
/// of `header.leafCapacity` entries, a root and a trailer claiming `rows` rows. Every checksum
/// is valid, whatever the claims. `listing[c]`, when given, is the record the index lists for
/// chunk `c` (by default record `c`).
func handBuiltContainer(header: FileHeader, rows: Int, records: [[UInt8]], listing: [Int]? = nil) -> [UInt8] {
    var bytes = header.encoded()
    var extents: [Extent] = []
    for record in records {
        extents.append(Extent(offset: bytes.count, length: record.count))
        bytes += record
    }
    let entries = listing.map { $0.map { extents[$0] } } ?? extents
    var leaves: [Extent] = []
    for first in stride(from: 0, to: entries.count, by: header.leafCapacity) {
        let page = IndexPage(
            kind: .leaf, first: first, entries: Array(entries[first..<min(entries.count, first + header.leafCapacity)])
        )
        .encoded()
        leaves.append(Extent(offset: bytes.count, length: page.count))
        bytes += page
    }
    let root = IndexPage(kind: .root, first: 0, entries: leaves).encoded()
    let rootExtent = Extent(offset: bytes.count, length: root.count)
    bytes += root
    let (quotient, remainder) = rows.quotientAndRemainder(dividingBy: header.rowsPerChunk)
    let trailer = CommitTrailer(
        sequence: 1, rows: rows, chunks: quotient + (remainder > 0 ? 1 : 0), root: rootExtent,
        rootChecksum: rootChecksum(root), previousTrailer: 0, committedLength: bytes.count + CommitTrailer.size,
        deadBytes: 0, uuid: header.uuid, timeNanoseconds: 0)
    return bytes + trailer.encoded()
}

/// A file header for hand-built containers (16-byte UUID 0x5A…).
func handBuiltHeader(dtype: DType = .uint8, rowShape: [Int] = [], rowsPerChunk: Int, codec: ChunkCodec = .none) throws
    -> FileHeader
{
    try FileHeader(
        uuid: [UInt8](repeating: 0x5A, count: 16), dtype: dtype, rowShape: rowShape, rowsPerChunk: rowsPerChunk,
        codec: codec, level: codec.defaultLevel, filter: .none)
}

/// Replaces the CRC-32C in the last four bytes of `page` with the checksum of the rest.
func resealedPage(_ page: [UInt8]) -> [UInt8] {
    var page = page
    let crc = CRC32C.checksum(page.dropLast(4))
    for i in 0..<4 { page[page.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * i)) }
    return page
}

// MARK: - Memory limits

/// Limits this process's address space to what it maps now plus `headroom` bytes, so any
/// allocation near `headroom` fails (and Swift traps on a failed allocation). For exit tests:
/// "this would allocate gigabytes" becomes "this process crashes".
func limitAddressSpace(headroom: Int) {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmSize:") } ?? ""
    let kib = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    var limit = rlimit(rlim_cur: rlim_t(kib * 1024 + headroom), rlim_max: rlim_t(kib * 1024 + headroom))
    if setrlimit(Int32(RLIMIT_AS.rawValue), &limit) != 0 { perror("setrlimit") }
}

// MARK: - The rowpack CLI

/// The `rowpack` executable built with these tests (beside the test bundle), or `$ROWPACK_BIN`.
let rowpackCLI: String? = {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "rowpack"
    ).path
    for candidate in [beside, ProcessInfo.processInfo.environment["ROWPACK_BIN"] ?? ""] where !candidate.isEmpty {
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}()

/// Runs the CLI with `arguments`; returns its exit status and what it printed.
func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(rowpackCLI))
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// Writes rows as a `.npy` file with numpy's canonical header.
func writeNpy(_ path: String, dtype: DType, rowShape: [Int], rows: Int, data: [UInt8]) throws {
    try writeFile(path, try NpyHeader.canonical(dtype: dtype, shape: [rows] + rowShape) + data)
}
