import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// Rows written to a container read back exactly as the plain in-memory array they came from.
@Suite struct RoundTripTests {
    static let rowShapes: [[Int]] = [[], [3], [2, 3], [2, 1, 3]]

    /// Every dtype family × row ranks 0–3 × 0, 1 and many rows (several chunks plus a partial
    /// one), appended in uneven batches across several commits.
    @Test(arguments: allDTypeDescrs, rowShapes)
    func everyDTypeAndRank(descr: String, rowShape: [Int]) throws {
        let directory = try TemporaryDirectory()
        let dtype = try dtype(descr)
        let bytesPerRow = rowBytes(dtype, rowShape)
        var random = SeededRandom(seed: UInt64(descr.utf8.count * 31 + rowShape.count))
        for rows in [0, 1, 37] {
            let path = directory.file("\(rows).rowpack")
            let data = random.bytes(rows * bytesPerRow)
            // Batches of 0, 5, 1 and the rest rows, each committed.
            var batches: [[UInt8]] = []
            var start = 0
            for size in [0, 5, 1, Int.max] {
                let end = min(rows, start + min(size, rows))
                batches.append(Array(data[start * bytesPerRow..<end * bytesPerRow]))
                start = end
            }
            try makeContainer(
                at: path, dtype: dtype, rowShape: rowShape, options: testOptions(rowsPerChunk: 8), batches: batches)

            let reader = try ContainerReader(path: path)
            #expect(reader.header.dtype == dtype)
            #expect(reader.header.dtype.descr == descr, "the header must keep numpy's descr text")
            #expect(reader.header.rowShape == rowShape)
            #expect(reader.header.rowBytes == bytesPerRow)
            #expect(reader.rowCount == rows)
            #expect(reader.chunkCount == (rows + 7) / 8)
            #expect(try readAll(reader) == data)
            for row in 0..<rows {
                #expect(
                    try reader.read(rows: row..<row + 1) == Array(data[row * bytesPerRow..<(row + 1) * bytesPerRow]))
            }
            if rows > 10 {
                #expect(try reader.read(rows: 3..<29) == Array(data[3 * bytesPerRow..<29 * bytesPerRow]))
                #expect(try reader.read(rows: 7..<9) == Array(data[7 * bytesPerRow..<9 * bytesPerRow]))
            }
            #expect(try reader.read(rows: rows..<rows) == [])
            #expect(reader.verify().isEmpty)
        }
    }

    /// Many commits, each ending in a partial tail chunk that the next one rewrites.
    @Test func manyCommitsRewritingPartialTails() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let dtype = try dtype("'<i4'")
        let writer = try ContainerWriter.create(
            at: path, dtype: dtype, rowShape: [2], options: testOptions(rowsPerChunk: 5))
        let reader = try ContainerReader(path: path)
        var random = SeededRandom(seed: 7)
        var expected: [UInt8] = []
        var sequence = reader.commit.sequence
        for step in 1...40 {
            let rows = Array(random.bytes((step % 7) * 8))
            try writer.append(rawRows: rows)
            expected += rows
            try writer.commit()
            #expect(writer.committedRowCount == expected.count / 8)
            let changed = try reader.refresh()
            #expect(changed == !rows.isEmpty, "step \(step)")
            if !rows.isEmpty { sequence += 1 }
            #expect(reader.commit.sequence == sequence)
            #expect(reader.rowCount == expected.count / 8)
            #expect(try readAll(reader) == expected, "step \(step)")
            // A fresh reader sees the same commit.
            let fresh = try ContainerReader(path: path)
            #expect(try readAll(fresh) == expected, "step \(step)")
        }
        try writer.close()
        let final = try ContainerReader(path: path)
        #expect(final.verify().isEmpty)
        #expect(final.commit.deadBytes > 0, "superseded tail chunks must be counted as dead bytes")
    }

    /// `ContainerWriter.open` continues a closed container, including a partial tail chunk.
    @Test func reopenAndAppend() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let dtype = try dtype("'<f8'")
        var random = SeededRandom(seed: 11)
        var expected = random.bytes(7 * 16)
        try makeContainer(
            at: path, dtype: dtype, rowShape: [2], options: testOptions(rowsPerChunk: 4), batches: [expected])
        for round in 0..<6 {
            let writer = try ContainerWriter.open(at: path, options: testOptions(rowsPerChunk: 999))
            #expect(writer.rowCount == expected.count / 16)
            #expect(writer.committedRowCount == expected.count / 16)
            #expect(writer.header.rowsPerChunk == 4, "chunking comes from the header, not the options")
            let more = random.bytes((round * 3 + 1) * 16)
            try writer.append(rawRows: more)
            expected += more
            if round % 2 == 0 { try writer.commit() }
            try writer.append(rawRows: more)
            expected += more
            try writer.close()
            let reader = try ContainerReader(path: path)
            #expect(try readAll(reader) == expected, "round \(round)")
        }
        // Opening and closing without appending changes nothing.
        let before = try fileBytes(path)
        try ContainerWriter.open(at: path).close()
        #expect(try fileBytes(path) == before)
        #expect(try ContainerReader(path: path).verify().isEmpty)
    }

    struct CodecCase: Sendable, CustomTestStringConvertible {
        var codec: ChunkCodec
        var level: Int
        var shuffle: Bool
        var testDescription: String { "\(codec) level \(level) shuffle \(shuffle)" }
    }

    /// Every codec, including a negative zstd level, with the shuffle on and off; each chunk
    /// record says how it was stored.
    @Test(arguments: [
        CodecCase(codec: .zstd, level: 1, shuffle: true),
        CodecCase(codec: .zstd, level: -5, shuffle: true),
        CodecCase(codec: .zstd, level: -1, shuffle: false),
        CodecCase(codec: .zstd, level: 19, shuffle: false),
        CodecCase(codec: .zlib, level: 6, shuffle: true),
        CodecCase(codec: .zlib, level: 1, shuffle: false),
        CodecCase(codec: .zlib, level: 0, shuffle: true),
        CodecCase(codec: .none, level: 0, shuffle: true),
        CodecCase(codec: .none, level: 0, shuffle: false),
    ])
    func codecs(_ c: CodecCase) throws {
        let directory = try TemporaryDirectory()
        for (index, descr) in ["'<f4'", "'|u1'", "[('x', '<f4'), ('y', '<i8')]", "'<c16'"].enumerated() {
            let path = directory.file("\(index).rowpack")
            let dtype = try dtype(descr)
            let bytesPerRow = rowBytes(dtype, [16])
            let data = compressibleRows(300, rowBytes: bytesPerRow, seed: 3)
            let options = testOptions(rowsPerChunk: 64, codec: c.codec, level: c.level, shuffle: c.shuffle)
            try makeContainer(
                at: path, dtype: dtype, rowShape: [16], options: options,
                batches: [Array(data[0..<100 * bytesPerRow]), Array(data[(100 * bytesPerRow)...])])
            let reader = try ContainerReader(path: path)
            #expect(reader.header.codec == c.codec)
            #expect(reader.header.level == c.level)
            // A width of 1 shuffles nothing: header and records then say filter none (§4.2).
            let shuffled = c.shuffle && dtype.shuffleElementSize > 1
            #expect(reader.header.filter == (shuffled ? .shuffle : .none), "\(descr)")
            #expect(try readAll(reader) == data, "\(descr)")
            #expect(reader.verify().isEmpty)

            let parsed = try parseCommit(try fileBytes(path))
            #expect(parsed.records.count == 5)
            for (chunk, record) in parsed.records.enumerated() {
                #expect(record.chunk == chunk)
                #expect(record.codec == c.codec)
                #expect(record.level == c.level)
                #expect(record.filter == (shuffled ? .shuffle : .none), "\(descr)")
                #expect(record.elementSize == (shuffled ? dtype.shuffleElementSize : 1))
                #expect(record.rawLength == record.rows * bytesPerRow)
                if c.codec == .none { #expect(record.storedLength == record.rawLength) }
                if c.codec != .none && c.level > 0 && descr == "'<f4'" {
                    #expect(record.storedLength < record.rawLength, "compressible data must shrink")
                }
            }
        }
    }

    /// One row per chunk (more chunks than one index leaf holds, so several leaves, across
    /// commits and a reopen), and one huge chunk.
    @Test func rowsPerChunkExtremes() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("one.rowpack")
        let data = SeededRandom(seed: 5).bytesArray(9000 * 4)
        let leaf = FormatLimits.leafCapacity
        // Commits end just before, at and after leaf boundaries.
        let cuts = [0, leaf - 3, leaf, leaf + 1, 2 * leaf + 5, 9000]
        var writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: [], options: testOptions(rowsPerChunk: 1, codec: .none))
        for (i, cut) in cuts.enumerated().dropFirst() {
            try writer.append(rawRows: Array(data[cuts[i - 1] * 4..<cut * 4]))
            if i == 3 {
                try writer.close()
                writer = try ContainerWriter.open(at: path, options: testOptions(rowsPerChunk: 1))
            } else {
                try writer.commit()
            }
            let reader = try ContainerReader(path: path)
            #expect(reader.rowCount == cut)
            #expect(reader.chunkCount == cut)
            #expect(try readAll(reader) == Array(data[0..<cut * 4]))
            #expect(try reader.read(rows: (cut - 1)..<cut) == Array(data[(cut - 1) * 4..<cut * 4]))
        }
        try writer.close()
        let reader = try ContainerReader(path: path)
        let picks = [0, leaf - 1, leaf, 2 * leaf - 1, 2 * leaf, 8999, 4, leaf]
        #expect(try reader.gather(rows: picks) == picks.flatMap { Array(data[$0 * 4..<$0 * 4 + 4]) })
        #expect(reader.verify().isEmpty)
        let parsed = try parseCommit(try fileBytes(path))
        #expect(parsed.leaves.count == 3)

        let bigPath = directory.file("big.rowpack")
        let big = compressibleRows(250_000, rowBytes: 4, seed: 9)
        try makeContainer(
            at: bigPath, dtype: .float32, rowShape: [], options: testOptions(rowsPerChunk: 100_000),
            batches: [Array(big[0..<150_000 * 4]), Array(big[(150_000 * 4)...])])
        let bigReader = try ContainerReader(path: bigPath)
        #expect(bigReader.chunkCount == 3)
        #expect(try readAll(bigReader) == big)
        #expect(try bigReader.read(rows: 99_999..<100_001) == Array(big[99_999 * 4..<100_001 * 4]))
    }

    /// The default chunking picks rows per chunk from the target chunk size.
    @Test func defaultChunking() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .float32, rowShape: [10], options: WriterOptions(targetChunkBytes: 4000, durability: .none)
        )
        #expect(writer.header.rowsPerChunk == 100)
        try writer.close()
        let hugeRows = directory.file("b.rowpack")
        let wide = try ContainerWriter.create(
            at: hugeRows, dtype: .float64, rowShape: [100_000], options: WriterOptions(durability: .none))
        #expect(wide.header.rowsPerChunk == 1, "a row bigger than the target still makes one-row chunks")
        try wide.close()
    }

    /// Typed appends and reads for each Swift element type, with row shapes.
    @Test func typedAPI() throws {
        let directory = try TemporaryDirectory()
        try typedRoundTrip(directory, [Float](stride(from: -3, to: 3, by: 0.25)), shape: [3])
        try typedRoundTrip(directory, (0..<60).map { Double($0) * 1e300 - 1 }, shape: [2, 2])
        try typedRoundTrip(directory, (0..<90).map { Int32($0) * -70_001 }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { Int64($0) << 40 }, shape: [5])
        try typedRoundTrip(directory, (0..<90).map { Int($0) - 45 }, shape: [5])
        try typedRoundTrip(directory, (0..<90).map { UInt8(truncatingIfNeeded: $0 * 7) }, shape: [3, 3])
        try typedRoundTrip(directory, (0..<90).map { UInt16($0 * 700) }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { UInt32($0) << 20 }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { UInt64($0) << 60 }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { UInt($0) }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { Int8(truncatingIfNeeded: $0 * 3) }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { Int16($0 * -300) }, shape: [])
        try typedRoundTrip(directory, (0..<90).map { $0 % 3 == 0 }, shape: [2])
    }

    private func typedRoundTrip<T: RowElement & Equatable>(
        _ directory: TemporaryDirectory, _ values: [T], shape: [Int],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let path = directory.file("\(T.self).rowpack")
        let perRow = shape.reduce(1, *)
        let writer = try ContainerWriter.create(
            at: path, dtype: T.dtype, rowShape: shape, options: testOptions(rowsPerChunk: 4))
        // One row at a time, then everything else at once.
        try writer.append(Array(values[0..<perRow]))
        try writer.append(Array(values[perRow..<2 * perRow]))
        try writer.commit()
        try writer.append(Array(values[(2 * perRow)...]))
        try writer.close()
        let reader = try ContainerReader(path: path)
        let rows = values.count / perRow
        #expect(reader.rowCount == rows, sourceLocation: sourceLocation)
        #expect(try reader.read(rows: 0..<rows, as: T.self) == values, sourceLocation: sourceLocation)
        for row in [0, 1, rows / 2, rows - 1] {
            #expect(
                try reader.row(row, as: T.self) == Array(values[row * perRow..<(row + 1) * perRow]),
                sourceLocation: sourceLocation)
        }
        #expect(try reader.read(rows: 0..<0, as: T.self) == [], sourceLocation: sourceLocation)
    }

    /// Gathers in any order, with repeats, across chunks, through caches of every size.
    @Test(arguments: [0, 1, 200, 1 << 20])
    func gatherAndTinyCache(cacheBytes: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        let bytesPerRow = 12
        let data = compressibleRows(103, rowBytes: bytesPerRow, seed: 1)
        try makeContainer(
            at: path, dtype: try dtype("[('x', '<f4'), ('y', '<i8')]"), rowShape: [],
            options: testOptions(rowsPerChunk: 10),
            batches: [Array(data[0..<55 * 12]), Array(data[(55 * 12)...])])
        let reader = try ContainerReader(path: path, cacheBytes: cacheBytes)
        func row(_ i: Int) -> [UInt8] { Array(data[i * bytesPerRow..<(i + 1) * bytesPerRow]) }

        let orders: [[Int]] = [
            [], [5], [102, 0, 55, 54, 9, 10, 9, 9, 101, 3], Array((0..<103).reversed()),
            [7, 7, 7, 7], [99, 100, 101, 102, 0, 1, 2], (0..<103).map { ($0 * 37) % 103 },
        ]
        for order in orders {
            #expect(try reader.gather(rows: order) == order.flatMap(row), "\(order)")
        }
        var random = SeededRandom(seed: 99)
        for _ in 0..<300 {
            let a = Int(random.next() % 103)
            let b = Int(random.next() % 104)
            let range = min(a, b)..<max(a, b)
            #expect(try reader.read(rows: range) == Array(data[range.lowerBound * 12..<range.upperBound * 12]))
            let picks = (0..<Int(random.next() % 20)).map { _ in Int(random.next() % 103) }
            #expect(try reader.gather(rows: picks) == picks.flatMap(row))
            #expect(reader.cache.statistics.bytes <= max(cacheBytes, 0))
        }
        // The zero-copy single-row path.
        for i in [0, 9, 10, 54, 55, 102, 10] {
            #expect(try reader.withRow(i) { Array($0) } == row(i), "withRow(\(i))")
        }
        expectRowpackError(.invalidArgument) { _ = try reader.withRow(103) { $0.count } }
        expectRowpackError(.invalidArgument) { _ = try reader.withRow(-1) { $0.count } }
        // Into a caller's buffer.
        var buffer = [UInt8](repeating: 0xEE, count: 3 * bytesPerRow)
        try buffer.withUnsafeMutableBytes { try reader.gather(rows: [60, 2, 60], into: $0) }
        #expect(buffer == row(60) + row(2) + row(60))
        try buffer.withUnsafeMutableBytes { try reader.read(rows: 19..<22, into: $0) }
        #expect(buffer == Array(data[19 * 12..<22 * 12]))

        expectRowpackError(.invalidArgument) { _ = try reader.gather(rows: [0, 103]) }
        expectRowpackError(.invalidArgument) { _ = try reader.gather(rows: [-1]) }
        expectRowpackError(.invalidArgument) { _ = try reader.read(rows: 100..<104) }
        expectRowpackError(.invalidArgument) { _ = try reader.read(rows: -1..<2) }
        expectRowpackError(.invalidArgument) {
            try buffer.withUnsafeMutableBytes { try reader.read(rows: 0..<2, into: $0) }
        }
        expectRowpackError(.invalidArgument) {
            try buffer.withUnsafeMutableBytes { try reader.gather(rows: [1], into: $0) }
        }
    }
}

extension SeededRandom {
    /// `count` random bytes from a generator seeded just for this call.
    func bytesArray(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}
