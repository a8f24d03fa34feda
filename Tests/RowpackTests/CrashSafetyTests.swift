import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// A crash at any byte leaves the last committed state readable (DESIGN §2.8): every prefix of
/// a multi-commit container opens at the newest commit it wholly contains, and a writer
/// reopening it cuts the torn tail and carries on.
@Suite struct CrashSafetyTests {
    /// A container with five commits (the empty creating one included), two of which end in a
    /// partial tail chunk that a later commit supersedes; and what each commit holds.
    struct History {
        var bytes: [UInt8]
        var data: [UInt8]
        /// (committed length, rows, sequence) per commit, oldest first.
        var commits: [(length: Int, rows: Int, sequence: UInt64)]
        let rowBytes = 12

        /// The newest commit wholly inside the first `length` bytes.
        func newest(within length: Int) -> (length: Int, rows: Int, sequence: UInt64)? {
            commits.last { $0.length <= length }
        }
    }

    static func makeHistory(in directory: TemporaryDirectory) throws -> History {
        let path = directory.file("history.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: [3], options: testOptions(rowsPerChunk: 4))
        var random = SeededRandom(seed: 2024)
        var data: [UInt8] = []
        var commits: [(length: Int, rows: Int, sequence: UInt64)] = []
        func record() throws {
            let reader = try ContainerReader(path: path)
            commits.append((reader.commit.committedLength, reader.rowCount, reader.commit.sequence))
        }
        try record()
        // 6 rows: chunk 0 full, chunk 1 partial (2 rows).
        // +1 row: chunk 1 rewritten, still partial (3 rows).
        // +10 rows: chunk 1 completed (rewritten again), chunks 2–3 full, chunk 4 partial (1 row).
        // +2 rows: chunk 4 rewritten, partial (3 rows).
        for rows in [6, 1, 10, 2] {
            let batch = random.bytes(rows * 12)
            try writer.append(rawRows: batch)
            data += batch
            try writer.commit()
            try record()
        }
        try writer.close()
        let bytes = try fileBytes(path)
        #expect(commits.map(\.rows) == [0, 6, 7, 17, 19])
        #expect(commits.last?.length == bytes.count)
        return History(bytes: bytes, data: data, commits: commits)
    }

    /// For every length from the end of the creating commit to the whole file, a reader of the
    /// prefix sees exactly the newest commit the prefix holds, with its data, and nothing torn.
    @Test func readerSeesNewestWholeCommitAtEveryLength() throws {
        let directory = try TemporaryDirectory()
        let history = try Self.makeHistory(in: directory)
        let path = directory.file("torn.rowpack")
        var checked = 0
        // Longest first, cutting one copy shorter each time (cheaper than a copy per length).
        try writeFile(path, history.bytes)
        for length in (history.commits[0].length...history.bytes.count).reversed() {
            try truncateFile(path, to: length)
            let expected = try #require(history.newest(within: length))
            let reader: ContainerReader
            do { reader = try ContainerReader(path: path) } catch {
                Issue.record("length \(length): open failed: \(error)")
                continue
            }
            #expect(reader.rowCount == expected.rows, "length \(length)")
            #expect(reader.commit.sequence == expected.sequence, "length \(length)")
            #expect(reader.commit.committedLength == expected.length, "length \(length)")
            #expect(reader.damagedCommit == nil, "length \(length): a torn tail is not damage")
            #expect(
                try readAll(reader) == Array(history.data[0..<expected.rows * history.rowBytes]), "length \(length)")
            expectRowpackError(.invalidArgument, "length \(length)") {
                _ = try reader.read(rows: expected.rows..<expected.rows + 1)
            }
            #expect(reader.verify().isEmpty, "length \(length)")
            checked += 1
        }
        #expect(checked == history.bytes.count - history.commits[0].length + 1)
    }

    /// Prefixes too short to hold even the creating commit are refused as corrupt, never trap.
    @Test func prefixesWithoutAnyCommitAreCorrupt() throws {
        let directory = try TemporaryDirectory()
        let history = try Self.makeHistory(in: directory)
        let path = directory.file("torn.rowpack")
        try writeFile(path, history.bytes)
        for length in (0..<history.commits[0].length).reversed() {
            try truncateFile(path, to: length)
            expectRowpackError(.corrupt, "length \(length)") { _ = try ContainerReader(path: path) }
            expectRowpackError(.corrupt, "length \(length)") { _ = try ContainerWriter.open(at: path) }
        }
    }

    /// For every length from the end of the second-to-last commit to the whole file, a writer
    /// opening the prefix truncates the torn tail, resumes from the newest whole commit
    /// (rewriting its partial tail chunk) and appends correctly.
    @Test func writerResumesFromEveryTornLength() throws {
        let directory = try TemporaryDirectory()
        let history = try Self.makeHistory(in: directory)
        let path = directory.file("torn.rowpack")
        let secondToLast = history.commits[history.commits.count - 2].length
        var random = SeededRandom(seed: 77)
        for length in secondToLast...history.bytes.count {
            try writeFile(path, history.bytes[0..<length])
            let expected = try #require(history.newest(within: length))
            let writer: ContainerWriter
            do { writer = try ContainerWriter.open(at: path, options: testOptions(rowsPerChunk: 4)) } catch {
                Issue.record("length \(length): open for writing failed: \(error)")
                continue
            }
            #expect(try fileSize(path) == expected.length, "length \(length): the torn tail must be cut")
            #expect(writer.rowCount == expected.rows, "length \(length)")
            #expect(writer.committedRowCount == expected.rows, "length \(length)")
            let more = random.bytes(Int(random.next() % 7) * history.rowBytes)
            try writer.append(rawRows: more)
            try writer.close()
            let reader = try ContainerReader(path: path)
            let want = Array(history.data[0..<expected.rows * history.rowBytes]) + more
            #expect(try readAll(reader) == want, "length \(length)")
            #expect(reader.commit.sequence == expected.sequence + (more.isEmpty ? 0 : 1), "length \(length)")
            #expect(reader.verify().isEmpty, "length \(length)")
        }
    }

    /// A writer that dies with uncommitted chunks already on disk (more than the writer
    /// buffers) leaves them past the last trailer; readers ignore them and the next writer
    /// cuts them off.
    @Test func droppedWriterLeavesOnlyCommittedRows() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        var random = SeededRandom(seed: 5)
        let rowBytes = 4096 * 4
        let committed = random.bytes(3 * rowBytes)
        var writer: ContainerWriter? = try ContainerWriter.create(
            at: path, dtype: .float32, rowShape: [4096], options: testOptions(rowsPerChunk: 8, codec: .none))
        try writer?.append(rawRows: committed)
        try writer?.commit()
        let committedLength = try fileSize(path)
        // 19 MiB of incompressible rows: more than the writer keeps in flight, so some are on disk.
        try writer?.append(rawRows: random.bytes(1200 * rowBytes))
        writer = nil
        #expect(try fileSize(path) > committedLength, "the test needs uncommitted bytes on disk")

        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 3)
        #expect(reader.commit.committedLength == committedLength)
        #expect(try readAll(reader) == committed)

        let reopened = try ContainerWriter.open(at: path)
        #expect(try fileSize(path) == committedLength)
        let more = random.bytes(9 * rowBytes)
        try reopened.append(rawRows: more)
        try reopened.close()
        try reader.refresh()
        #expect(try readAll(reader) == committed + more)
        #expect(reader.verify().isEmpty)
    }
}
