import Foundation
import RowpackFormat
import Synchronization
import Testing

@testable import Rowpack

// Shared helpers for the Rowpack integration tests: temporary directories, a seeded random
// number generator, raw file access, a parser of a container's structures built on the
// `RowpackFormat` decoders (to find and damage chunks, leaves, roots and trailers), and error
// expectations.

// MARK: - Temporary files

/// A fresh directory under the system temporary directory, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String = "rowpack") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory.
    func file(_ name: String) -> String { "\(path)/\(name)" }
}

/// The whole content of the file at `path`.
func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Replaces (or creates) the file at `path` with `bytes`.
///
/// The old file is unlinked first rather than truncated: ext4 flushes a file that is truncated
/// and rewritten (`auto_da_alloc`), which made the every-length loops of the crash tests slow.
func writeFile(_ path: String, _ bytes: some Collection<UInt8>) throws {
    if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Size of the file at `path` in bytes.
func fileSize(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.size] as? NSNumber)?.intValue ?? -1
}

/// Writes `bytes` at `offset` in an existing file, extending it (sparsely) if needed.
func writeAt(_ path: String, offset: Int, _ bytes: [UInt8]) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: Data(bytes))
}

/// XORs the byte at `offset` of the file at `path` with `mask`, in place (twice restores it).
func xorByte(_ path: String, at offset: Int, _ mask: UInt8) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let byte = try #require(try handle.read(upToCount: 1)?.first)
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: Data([byte ^ mask]))
}

/// Cuts the file at `path` to `length` bytes.
func truncateFile(_ path: String, to length: Int) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    defer { try? handle.close() }
    try handle.truncate(atOffset: UInt64(length))
}

// MARK: - Random data

/// The library's seeded generator, so every random test is reproducible.
typealias SeededRandom = SplitMix64

extension SplitMix64 {
    /// `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(count)
        while result.count < count {
            var word = next()
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }
}

/// Every dtype family the format supports, as numpy's literal descr text (canonical, so a
/// container must give back exactly this text).
let allDTypeDescrs: [String] = [
    "'|b1'", "'|i1'", "'<i2'", "'<i4'", "'<i8'", "'|u1'", "'<u2'", "'<u4'", "'<u8'",
    "'<f2'", "'<f4'", "'<f8'", "'<c8'", "'<c16'", "'|S5'", "'<U3'", "'|V7'",
    "'<M8[ns]'", "'<m8[25s]'", "[('x', '<f4'), ('y', '<i8')]", "'>f8'",
]

/// The dtype of a numpy descr literal, or a test failure.
func dtype(_ descr: String) throws -> DType {
    try DType(descr: descr)
}

/// Bytes of one row of `dtype` with `shape`.
func rowBytes(_ dtype: DType, _ shape: [Int]) -> Int {
    shape.reduce(dtype.itemSize, *)
}

/// Compressible rows: a slow random walk in every byte position, so codecs and the shuffle
/// have something to work on (unlike uniform random bytes).
func compressibleRows(_ count: Int, rowBytes: Int, seed: UInt64) -> [UInt8] {
    var random = SeededRandom(seed: seed)
    var result = [UInt8](repeating: 0, count: count * rowBytes)
    var walk = [UInt8](repeating: 0, count: rowBytes)
    for row in 0..<count {
        for j in 0..<rowBytes {
            if random.next() % 4 == 0 { walk[j] &+= UInt8(truncatingIfNeeded: random.next() % 3) }
            result[row * rowBytes + j] = walk[j]
        }
    }
    return result
}

// MARK: - Options

/// Writer options for tests: explicit chunking, no syncs unless asked for.
func testOptions(
    rowsPerChunk: Int, codec: ChunkCodec = .zstd, level: Int? = nil, shuffle: Bool? = nil,
    durability: Durability = .none, autoCommitChunks: Int? = nil
) -> WriterOptions {
    WriterOptions(
        rowsPerChunk: rowsPerChunk, codec: codec, level: level, shuffle: shuffle, durability: durability,
        autoCommitChunks: autoCommitChunks)
}

/// The `rootChecksum` a commit trailer stores for the encoded root page `root`: the CRC-32C of
/// the page without its own trailing CRC, i.e. equal to the page's CRC (`Spec/FORMAT.md` §6.1).
func rootChecksum(_ root: [UInt8]) -> UInt32 {
    CRC32C.checksum(root.dropLast(4))
}

// MARK: - Reading a container's structures

/// The structures of one commit of a container, decoded with the `RowpackFormat` decoders
/// from the file's bytes (independently of `ContainerReader`).
struct ParsedCommit {
    var header: FileHeader
    var headerLength: Int
    var trailer: CommitTrailer
    /// Index leaves, from the root.
    var leaves: [Extent]
    /// Chunk record extents, from the leaves, in chunk order.
    var chunks: [Extent]
    /// Decoded record headers, in chunk order.
    var records: [ChunkRecord]

    var root: Extent { trailer.root }
    var trailerExtent: Extent { Extent(offset: trailer.offset, length: CommitTrailer.size) }
}

/// Decodes the commit whose trailer ends at `end` (default: the end of `bytes`).
func parseCommit(_ bytes: [UInt8], end: Int? = nil) throws -> ParsedCommit {
    let end = end ?? bytes.count
    let headerLength = try FileHeader.length(prefix: Array(bytes[0..<FileHeader.prefixBytes]))
    let header = try FileHeader(decoding: Array(bytes[0..<headerLength]))
    let offset = end - CommitTrailer.size
    let trailer = try CommitTrailer(decoding: Array(bytes[offset..<end]), at: offset, header: header)
    let root = try IndexPage(
        decoding: Array(bytes[trailer.root.offset..<trailer.root.end]), kind: .root, floor: headerLength,
        limit: trailer.root.offset)
    var chunks: [Extent] = []
    for leaf in root.entries {
        let page = try IndexPage(
            decoding: Array(bytes[leaf.offset..<leaf.end]), kind: .leaf, floor: headerLength, limit: leaf.offset)
        chunks += page.entries
    }
    let records = try chunks.map { try ChunkRecord(decoding: Array(bytes[$0.offset..<$0.offset + ChunkRecord.size])) }
    return ParsedCommit(
        header: header, headerLength: headerLength, trailer: trailer, leaves: root.entries, chunks: chunks,
        records: records)
}

/// Every commit of the file, oldest first, following the trailers' `previousTrailer` chain.
func parseCommitHistory(_ bytes: [UInt8]) throws -> [ParsedCommit] {
    var commits = [try parseCommit(bytes)]
    while commits[0].trailer.previousTrailer != 0 {
        commits.insert(try parseCommit(bytes, end: commits[0].trailer.previousTrailer + CommitTrailer.size), at: 0)
    }
    return commits
}

// MARK: - Errors

/// Runs `body`, expecting a ``RowpackError`` with `code`; returns it for further checks.
@discardableResult
func expectRowpackError(
    _ code: RowpackError.Code, _ comment: @autoclosure () -> String = "",
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> RowpackError? {
    do {
        try body()
        Issue.record(
            "expected a RowpackError \(code), nothing was thrown. \(comment())", sourceLocation: sourceLocation)
        return nil
    } catch let error as RowpackError {
        #expect(error.code == code, "\(error) \(comment())", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record(
            "expected a RowpackError \(code), got \(type(of: error)): \(error). \(comment())",
            sourceLocation: sourceLocation)
        return nil
    }
}

/// Collects failures from threads that Swift Testing does not track, to check them afterwards.
final class FailureLog: Sendable {
    private let entries = Mutex<[String]>([])
    func record(_ message: String) { entries.withLock { $0.append(message) } }
    var all: [String] { entries.withLock { $0 } }
}

/// Runs `body(i)` for `i` in `0..<count` on `count` separate threads at once, and waits.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

// MARK: - Writing and reading whole containers

/// Creates a container at `path` holding `rows` (raw bytes), appended in `batches` and
/// committed after each batch.
@discardableResult
func makeContainer(
    at path: String, dtype: DType, rowShape: [Int], options: WriterOptions, batches: [[UInt8]]
) throws -> [UInt8] {
    let writer = try ContainerWriter.create(at: path, dtype: dtype, rowShape: rowShape, options: options)
    var all: [UInt8] = []
    for batch in batches {
        try writer.append(rawRows: batch)
        try writer.commit()
        all += batch
    }
    try writer.close()
    return all
}

/// Every committed row of `reader` as raw bytes.
func readAll(_ reader: ContainerReader) throws -> [UInt8] {
    try reader.read(rows: 0..<reader.rowCount)
}

/// A thread-safe counter with a high-water mark.
final class Counter: Sendable {
    private let state = Mutex<(value: Int, maximum: Int)>((0, 0))

    /// Adds `delta` and returns the new value.
    @discardableResult
    func add(_ delta: Int = 1) -> Int {
        state.withLock { state in
            state.value += delta
            state.maximum = max(state.maximum, state.value)
            return state.value
        }
    }

    var value: Int { state.withLock { $0.value } }
    var maximum: Int { state.withLock { $0.maximum } }
}
