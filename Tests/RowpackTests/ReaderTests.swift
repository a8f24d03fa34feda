import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// Readers: snapshots, refresh, and many threads on one reader.
@Suite struct ReaderTests {
    /// A reader holds its commit until `refresh()`, and never reads past it.
    @Test func snapshotUntilRefresh() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: [], options: testOptions(rowsPerChunk: 4))
        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 0)
        #expect(reader.commit.sequence == 1)
        #expect(try reader.refresh() == false)

        try writer.append([1, 2, 3, 4, 5] as [Int32])
        #expect(try reader.refresh() == false, "appended rows are invisible until committed")
        try writer.commit()
        #expect(reader.rowCount == 0, "a reader keeps its snapshot until refresh")
        expectRowpackError(.invalidArgument) { _ = try reader.read(rows: 0..<1) }
        #expect(try reader.refresh() == true)
        #expect(reader.rowCount == 5)
        #expect(reader.commit.sequence == 2)
        #expect(try reader.read(rows: 0..<5, as: Int32.self) == [1, 2, 3, 4, 5])

        // The tail chunk is rewritten by the next commit; the reader's old data stays valid
        // (committed bytes are never overwritten) and refresh moves to the new chunk.
        try writer.append([6, 7, 8] as [Int32])
        try writer.commit()
        #expect(try reader.read(rows: 4..<5, as: Int32.self) == [5])
        #expect(reader.rowCount == 5)
        #expect(try reader.refresh())
        #expect(try reader.read(rows: 0..<8, as: Int32.self) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try reader.refresh() == false)
        try writer.close()
        #expect(try reader.refresh() == false, "close after commit adds nothing")
    }

    /// Uncommitted rows that already reached the file are invisible to new readers.
    @Test func uncommittedBytesAreInvisible() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .uint8, rowShape: [1 << 16], options: testOptions(rowsPerChunk: 2, codec: .none))
        var random = SeededRandom(seed: 3)
        let committed = random.bytes(3 << 16)
        try writer.append(rawRows: committed)
        try writer.commit()
        try writer.append(rawRows: random.bytes(100 << 16))  // 6.25 MiB, partly flushed
        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 3)
        #expect(try readAll(reader) == committed)
        try writer.close()
        #expect(try reader.refresh())
        #expect(reader.rowCount == 103)
    }

    /// Many threads reading random ranges and gathers from one reader through a cache that
    /// holds about two chunks (so entries are evicted while other threads use them) all get
    /// correct data.
    @Test(arguments: [0, 2 * 16 * 24, 1 << 20])
    func manyThreadsOneReader(cacheBytes: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let rowBytes = 24
        let rows = 2000
        let data = compressibleRows(rows, rowBytes: rowBytes, seed: 12)
        try makeContainer(
            at: path, dtype: .float64, rowShape: [3], options: testOptions(rowsPerChunk: 16),
            batches: [Array(data.prefix(1000 * rowBytes)), Array(data.dropFirst(1000 * rowBytes))])
        let reader = try ContainerReader(path: path, cacheBytes: cacheBytes)
        let failures = FailureLog()
        onThreads(8) { thread in
            var random = SeededRandom(seed: UInt64(100 + thread))
            for iteration in 0..<150 {
                do {
                    switch random.next() % 3 {
                    case 0:
                        let start = Int(random.next() % UInt64(rows))
                        let count = Int(random.next() % 40)
                        let range = start..<min(rows, start + count)
                        let got = try reader.read(rows: range)
                        if got != Array(data[range.lowerBound * rowBytes..<range.upperBound * rowBytes]) {
                            failures.record("thread \(thread) iteration \(iteration): wrong rows \(range)")
                        }
                    case 1:
                        let picks = (0..<Int(random.next() % 30)).map { _ in Int(random.next() % UInt64(rows)) }
                        let got = try reader.gather(rows: picks)
                        if got != picks.flatMap({ Array(data[$0 * rowBytes..<($0 + 1) * rowBytes]) }) {
                            failures.record("thread \(thread) iteration \(iteration): wrong gather")
                        }
                    default:
                        let row = Int(random.next() % UInt64(rows))
                        let got = try reader.row(row, as: Double.self)
                        let want = (0..<3).map { k in
                            (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[row * rowBytes + k * 8 + $1]) << (8 * $1) }
                        }
                        if got.map(\.bitPattern) != want {
                            failures.record("thread \(thread) iteration \(iteration): wrong row \(row)")
                        }
                    }
                } catch {
                    failures.record("thread \(thread) iteration \(iteration): \(error)")
                }
                if reader.cache.statistics.bytes > cacheBytes {
                    failures.record("cache holds \(reader.cache.statistics.bytes) of \(cacheBytes) bytes")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        if cacheBytes > 0 && cacheBytes < 10_000 { #expect(reader.cache.statistics.evictions > 0) }
        // Whole-file reads (parallel decode) are right too.
        #expect(try readAll(reader) == data)
    }

    /// A reader in the same process follows a writer's commits through `refresh()` while the
    /// writer keeps appending: it only ever sees whole commits, with their exact data, and never
    /// a row beyond its commit.
    @Test func readerFollowsWriter() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        // Row i holds the values i*4 ..< i*4+4; commits at row counts that are multiples of 7.
        let writerFailures = FailureLog()
        try ContainerWriter.create(
            at: path, dtype: .uint32, rowShape: [4], options: testOptions(rowsPerChunk: 5)
        ).close()
        let reader = try ContainerReader(path: path, cacheBytes: 200)
        let done = Counter()
        let writerThread = Thread {
            do {
                let writer = try ContainerWriter.open(at: path, options: WriterOptions(durability: .none))
                var next = 0
                for batch in 0..<300 {
                    let count = 7 * (1 + batch % 3)
                    let values = (next..<next + count).flatMap { row in (0..<4).map { UInt32(row * 4 + $0) } }
                    // Append in pieces so chunks fill and flush between commits.
                    try writer.append(Array(values[0..<8]))
                    try writer.append(Array(values[8...]))
                    next += count
                    try writer.commit()
                }
                try writer.close()
            } catch {
                writerFailures.record("\(error)")
            }
            done.add()
        }
        writerThread.start()
        var lastSequence: UInt64 = 0
        var lastRows = 0
        var observed = 0
        while true {
            let finished = done.value > 0
            try reader.refresh()
            let rows = reader.rowCount
            #expect(rows % 7 == 0, "a reader must only see whole commits, saw \(rows) rows")
            #expect(rows >= lastRows)
            #expect(reader.commit.sequence >= lastSequence)
            if reader.commit.sequence > lastSequence { observed += 1 }
            lastSequence = reader.commit.sequence
            lastRows = rows
            let got = try reader.read(rows: 0..<rows, as: UInt32.self)
            #expect(got.count == rows * 4)
            #expect(got.elementsEqual((0..<rows * 4).lazy.map(UInt32.init)), "data of \(rows) rows")
            if rows > 0 {
                #expect(try reader.row(rows - 1, as: UInt32.self) == (0..<4).map { UInt32((rows - 1) * 4 + $0) })
            }
            expectRowpackError(.invalidArgument) { _ = try reader.read(rows: rows..<rows + 1) }
            if finished { break }
        }
        #expect(writerFailures.all.isEmpty, "\(writerFailures.all)")
        #expect(lastRows == 7 * (100 * 1 + 100 * 2 + 100 * 3))
        #expect(observed >= 2, "the reader should have seen the writer's progress")
        #expect(reader.verify().isEmpty)
    }
}
