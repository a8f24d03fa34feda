import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// The writer's rules: one writer per file, loud mismatches, no-op commits, dead-byte
/// accounting, auto-commit and durability modes.
@Suite struct WriterTests {
    @Test func secondWriterIsLocked() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let first = try ContainerWriter.create(
            at: path, dtype: .float32, rowShape: [], options: testOptions(rowsPerChunk: 4))
        expectRowpackError(.locked) { _ = try ContainerWriter.open(at: path) }
        try first.append([1, 2, 3] as [Float])
        try first.commit()
        expectRowpackError(.locked) { _ = try ContainerWriter.open(at: path) }
        // Readers are never locked out.
        #expect(try ContainerReader(path: path).rowCount == 3)
        try first.close()
        let second = try ContainerWriter.open(at: path)
        expectRowpackError(.locked) { _ = try ContainerWriter.open(at: path) }
        try second.append([4] as [Float])
        try second.close()
        #expect(try ContainerReader(path: path).read(rows: 0..<4, as: Float.self) == [1, 2, 3, 4])
    }

    @Test func createRefusesExistingFileUnlessOverwriting() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        try ContainerWriter.create(at: path, dtype: .int8, rowShape: [], options: testOptions(rowsPerChunk: 4)).close()
        let before = try fileBytes(path)
        expectRowpackError(.invalidArgument) {
            _ = try ContainerWriter.create(at: path, dtype: .int8, rowShape: [], options: testOptions(rowsPerChunk: 4))
        }
        #expect(try fileBytes(path) == before)
        let replaced = try ContainerWriter.create(
            at: path, dtype: .int16, rowShape: [2], options: testOptions(rowsPerChunk: 4), overwrite: true)
        try replaced.append([1, 2] as [Int16])
        try replaced.close()
        let reader = try ContainerReader(path: path)
        #expect(reader.header.dtype == .int16)
        #expect(try reader.read(rows: 0..<1, as: Int16.self) == [1, 2])
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["a.rowpack"])
    }

    @Test func invalidCreateArguments() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        expectRowpackError(.invalidArgument, "zero-byte rows") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float32, rowShape: [3, 0], options: testOptions(rowsPerChunk: 4))
        }
        let empty = try dtype("'|S0'")
        expectRowpackError(.invalidArgument, "zero-byte dtype") {
            _ = try ContainerWriter.create(at: path, dtype: empty, rowShape: [], options: testOptions(rowsPerChunk: 4))
        }
        expectRowpackError(.invalidArgument, "zero rows per chunk") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float32, rowShape: [], options: testOptions(rowsPerChunk: 0))
        }
        // 4 × 3 × 2^62 bytes wrap to 0: the row size must be refused as too large, not as empty.
        let huge = expectRowpackError(.invalidArgument, "row bytes overflowing") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float32, rowShape: [3, 1 << 62], options: testOptions(rowsPerChunk: 4))
        }
        #expect(huge?.message.contains("exceed 2^63 bytes") == true, "\(String(describing: huge))")
        expectRowpackError(.invalidArgument, "chunk over 2 GiB") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float64, rowShape: [1 << 20], options: testOptions(rowsPerChunk: 1000))
        }
        expectRowpackError(.invalidArgument, "zstd level 99") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float32, rowShape: [], options: testOptions(rowsPerChunk: 4, level: 99))
        }
        expectRowpackError(.invalidArgument, "zlib level -1") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float32, rowShape: [], options: testOptions(rowsPerChunk: 4, codec: .zlib, level: -1))
        }
        expectRowpackError(.invalidArgument, "negative dimension") {
            _ = try ContainerWriter.create(
                at: path, dtype: .float32, rowShape: [-2, -2], options: testOptions(rowsPerChunk: 4))
        }
        #expect(!FileManager.default.fileExists(atPath: path), "a refused create must not leave a file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func mismatchedRowsAreRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .float32, rowShape: [3], options: testOptions(rowsPerChunk: 4))
        try writer.append([1, 2, 3] as [Float])
        expectRowpackError(.mismatch, "Double into float32") { try writer.append([1, 2, 3] as [Double]) }
        expectRowpackError(.mismatch, "Int32 into float32") { try writer.append([1, 2, 3] as [Int32]) }
        expectRowpackError(.mismatch, "UInt32 into float32") { try writer.append([1, 2, 3] as [UInt32]) }
        expectRowpackError(.mismatch, "4 floats for 3-float rows") { try writer.append([1, 2, 3, 4] as [Float]) }
        expectRowpackError(.mismatch, "11 bytes for 12-byte rows") {
            try writer.append(rawRows: [UInt8](repeating: 0, count: 11))
        }
        expectRowpackError(.mismatch, "25 bytes for 12-byte rows") {
            try writer.append(rawRows: [UInt8](repeating: 0, count: 25))
        }
        // A refused append changes nothing and the writer carries on.
        #expect(writer.rowCount == 1)
        try writer.append([4, 5, 6] as [Float])
        try writer.append([] as [Float])
        try writer.append(rawRows: [])
        try writer.close()
        let reader = try ContainerReader(path: path)
        #expect(try reader.read(rows: 0..<2, as: Float.self) == [1, 2, 3, 4, 5, 6])
        expectRowpackError(.mismatch) { _ = try reader.read(rows: 0..<1, as: Double.self) }
        expectRowpackError(.mismatch) { _ = try reader.read(rows: 0..<1, as: Int32.self) }
        expectRowpackError(.mismatch) { _ = try reader.row(0, as: UInt32.self) }

        // Big-endian floats are not Swift Floats: no silent byte swapping.
        let bigEndian = directory.file("be.rowpack")
        let beWriter = try ContainerWriter.create(
            at: bigEndian, dtype: try dtype("'>f4'"), rowShape: [], options: testOptions(rowsPerChunk: 4))
        expectRowpackError(.mismatch) { try beWriter.append([1] as [Float]) }
        try beWriter.append(rawRows: [0x3F, 0x80, 0, 0])
        try beWriter.close()
        let beReader = try ContainerReader(path: bigEndian)
        expectRowpackError(.mismatch) { _ = try beReader.read(rows: 0..<1, as: Float.self) }
        #expect(try beReader.read(rows: 0..<1) == [0x3F, 0x80, 0, 0])
    }

    @Test func writerRefusesWorkAfterClose() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .uint8, rowShape: [], options: testOptions(rowsPerChunk: 4))
        try writer.append([1, 2] as [UInt8])
        try writer.close()
        #expect(throws: RowpackError.self) { try writer.append([3] as [UInt8]) }
        #expect(throws: RowpackError.self) { try writer.commit() }
        #expect(try ContainerReader(path: path).rowCount == 2)
    }

    /// A commit with nothing new writes nothing: same sequence, same file.
    @Test func emptyCommitIsANoOp() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .int64, rowShape: [], options: testOptions(rowsPerChunk: 4))
        let created = try fileBytes(path)
        try writer.commit()
        #expect(try fileBytes(path) == created, "committing an empty writer must not write")
        try writer.append([1, 2, 3, 4, 5] as [Int64])
        try writer.commit()
        let reader = try ContainerReader(path: path)
        let sequence = reader.commit.sequence
        let committed = try fileBytes(path)
        try writer.commit()
        try writer.commit()
        try writer.append([] as [Int64])
        try writer.commit()
        #expect(try fileBytes(path) == committed)
        try reader.refresh()
        #expect(reader.commit.sequence == sequence)
        try writer.close()
        #expect(try fileBytes(path) == committed)
        // Reopening and closing does not add a commit either.
        try ContainerWriter.open(at: path).close()
        #expect(try fileBytes(path) == committed)
    }

    /// Superseding a partial tail chunk turns its old record, the old root, trailer and leaf
    /// into dead bytes, counted exactly.
    @Test func deadBytesGrowWhenATailIsSuperseded() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: [], options: testOptions(rowsPerChunk: 4))
        try writer.append([1, 2, 3, 4, 5, 6] as [Int32])
        try writer.commit()
        let before = try parseCommit(try fileBytes(path))
        #expect(before.chunks.count == 2)
        try writer.append([7] as [Int32])
        try writer.commit()
        let after = try parseCommit(try fileBytes(path))
        #expect(after.chunks[0] == before.chunks[0], "a full chunk is never rewritten")
        #expect(after.chunks[1] != before.chunks[1], "the partial tail chunk is rewritten")
        let expected =
            before.trailer.deadBytes + before.chunks[1].length + before.leaves[0].length
            + before.root.length + CommitTrailer.size
        #expect(after.trailer.deadBytes == expected)
        #expect(after.trailer.deadBytes > before.trailer.deadBytes)

        // Completing the chunk supersedes it again.
        try writer.append([8, 9] as [Int32])
        try writer.close()
        let last = try parseCommit(try fileBytes(path))
        #expect(
            last.trailer.deadBytes == after.trailer.deadBytes + after.chunks[1].length + after.leaves[0].length
                + after.root.length + CommitTrailer.size)
        #expect(try ContainerReader(path: path).read(rows: 0..<9, as: Int32.self) == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        // Dead bytes plus the live structures account for the whole file.
        let live =
            last.headerLength + last.chunks.reduce(0) { $0 + $1.length } + last.leaves.reduce(0) { $0 + $1.length }
            + last.root.length + CommitTrailer.size
        #expect(live + last.trailer.deadBytes == last.trailer.committedLength)
    }

    /// `autoCommitChunks` commits by itself: the committed rows never lag the appended ones by
    /// more than the auto-commit interval (plus the partial chunk being filled).
    @Test func autoCommit() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let every = 2
        let writer = try ContainerWriter.create(
            at: path, dtype: .int64, rowShape: [], options: testOptions(rowsPerChunk: 4, autoCommitChunks: every))
        let values = (0..<100).map { Int64($0 * 3) }
        try writer.append(Array(values[0..<3]))
        #expect(try ContainerReader(path: path).rowCount == 0)
        var seen: Set<Int> = []
        for value in values[3...] {
            try writer.append([value])
            let reader = try ContainerReader(path: path)
            #expect(reader.rowCount == writer.committedRowCount)
            #expect(
                writer.rowCount - reader.rowCount < (every + 1) * 4,
                "commits lag: \(reader.rowCount) of \(writer.rowCount)")
            #expect(try reader.read(rows: 0..<reader.rowCount, as: Int64.self) == Array(values[0..<reader.rowCount]))
            seen.insert(reader.rowCount)
        }
        #expect(seen.count >= 3, "commits must have happened: \(seen.sorted())")
        #expect(seen.allSatisfy { $0 % 4 == 0 }, "auto-commits happen at chunk boundaries: \(seen.sorted())")
        try writer.close()
        #expect(try ContainerReader(path: path).read(rows: 0..<100, as: Int64.self) == values)

        // Auto-commit applies to a reopened writer too (chunking from the header: 4 rows).
        let reopened = try ContainerWriter.open(
            at: path, options: WriterOptions(durability: .none, autoCommitChunks: 1, maxChunksInFlight: 1))
        try reopened.append((0..<8).map { Int64($0) })
        #expect(try ContainerReader(path: path).rowCount >= 104, "no explicit commit was made")
        try reopened.close()
        #expect(try ContainerReader(path: path).rowCount == 108)
    }

    /// Every durability mode writes files that read back, for create, commit and reopen.
    @Test(arguments: Durability.allCases)
    func durabilityModes(_ durability: Durability) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .float64, rowShape: [2], options: testOptions(rowsPerChunk: 3, durability: durability))
        try writer.append([1, 2, 3, 4] as [Double])
        try writer.commit()
        try writer.append([5, 6, 7, 8, 9, 10] as [Double])
        try writer.close()
        let reopened = try ContainerWriter.open(at: path, options: WriterOptions(durability: durability))
        try reopened.append([11, 12] as [Double])
        try reopened.close()
        let reader = try ContainerReader(path: path)
        #expect(try reader.read(rows: 0..<6, as: Double.self) == (1...12).map(Double.init))
        #expect(reader.verify().isEmpty)
        #expect(reader.commit.sequence == 4)
    }

    /// The writer's counters follow appends and commits.
    @Test func rowCounters() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .uint16, rowShape: [], options: testOptions(rowsPerChunk: 4))
        #expect(writer.rowCount == 0 && writer.committedRowCount == 0)
        try writer.append((0..<9).map { UInt16($0) })
        #expect(writer.rowCount == 9)
        #expect(writer.committedRowCount == 0)
        try writer.commit()
        #expect(writer.committedRowCount == 9)
        try writer.append([9] as [UInt16])
        #expect(writer.rowCount == 10 && writer.committedRowCount == 9)
        try writer.close()
        #expect(try ContainerReader(path: path).rowCount == 10)
    }

    /// Appends cost O(new data): the bytes one commit of one row adds are bounded by one chunk
    /// record, one leaf, the root and the trailer — at 100,000 chunks as at 10, never the whole
    /// index (which at 100,000 chunks is 1.6 MB).
    @Test func commitCostDoesNotGrowWithChunkCount() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .uint8, rowShape: [],
            options: WriterOptions(rowsPerChunk: 1, codec: .none, durability: .none))
        func costOfOneRowCommit() throws -> Int {
            let before = try ContainerReader(path: path).commit.committedLength
            try writer.append([UInt8(7)])
            try writer.commit()
            return try ContainerReader(path: path).commit.committedLength - before
        }
        try writer.append([UInt8](repeating: 1, count: 10))
        try writer.commit()
        let small = try costOfOneRowCommit()
        try writer.append([UInt8](repeating: 2, count: 100_000 - 11))
        try writer.commit()
        let large = try costOfOneRowCommit()
        let leaves = 100_000 / FormatLimits.leafCapacity + 1
        let bound =
            ChunkRecord.size + 1 + IndexPage.length(entries: FormatLimits.leafCapacity)
            + IndexPage.length(entries: leaves) + CommitTrailer.size
        #expect(small <= bound)
        #expect(large <= bound, "one-row commit at 100,000 chunks wrote \(large) bytes")
        #expect(large < 100_000 * 16 / 10)
        try writer.close()
    }
}
