import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// Seeded random histories of appends, commits, reopens, dropped writers and reads, checked
/// against a plain in-memory array after every step. A failure names its seed; rerun it alone
/// with `--filter PropertyTests` and the seed in the message.
@Suite struct PropertyTests {
    enum Step: CustomStringConvertible {
        case append(rows: Int)
        case commit
        case closeAndReopen
        case dropWriter
        case check

        var description: String {
            switch self {
            case .append(let rows): "append \(rows)"
            case .commit: "commit"
            case .closeAndReopen: "close+reopen"
            case .dropWriter: "drop"
            case .check: "check"
            }
        }
    }

    @Test(arguments: 0..<160)
    func randomHistoryMatchesReference(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) &* 0x1234_5678_9ABC)
        let directory = try TemporaryDirectory()
        let path = directory.file("p.rowpack")

        let descr = allDTypeDescrs[Int(random.next() % UInt64(allDTypeDescrs.count))]
        let dtype = try dtype(descr)
        let rank = Int(random.next() % 4)
        let rowShape = (0..<rank).map { _ in 1 + Int(random.next() % 3) }
        let bytesPerRow = rowBytes(dtype, rowShape)
        let perChunk = [1, 2, 3, 5, 8, 16, 64][Int(random.next() % 7)]
        let codec = ChunkCodec.allCases[Int(random.next() % 3)]
        let level = codec == .none ? 0 : Int(random.next() % 4) - (codec == .zstd ? 1 : 0)
        let shuffle = random.next() % 2 == 0
        let autoCommit: Int? = random.next() % 4 == 0 ? 1 + Int(random.next() % 3) : nil
        let cacheBytes = [0, bytesPerRow * perChunk, 1 << 20][Int(random.next() % 3)]
        let setup =
            "seed \(seed): \(descr) \(rowShape), \(perChunk) rows/chunk, \(codec) \(level), shuffle \(shuffle), autoCommit \(autoCommit.map(String.init) ?? "-"), cache \(cacheBytes)"

        let options = WriterOptions(
            rowsPerChunk: perChunk, codec: codec, level: level, shuffle: shuffle, durability: .none,
            autoCommitChunks: autoCommit, maxChunksInFlight: 1 + Int(random.next() % 4))
        var writer: ContainerWriter? = try ContainerWriter.create(
            at: path, dtype: dtype, rowShape: rowShape, options: options)
        let reader = try ContainerReader(path: path, cacheBytes: cacheBytes)

        var reference: [UInt8] = []  // every row appended and not lost
        var explicitlyCommitted = 0  // rows at the last explicit commit, close or reopen
        var history: [Step] = []

        /// The rows a reader must see: exactly the explicit commits without auto-commit; with
        /// it, anything from the last explicit commit to everything appended, at a chunk
        /// boundary unless it is the explicit commit.
        func checkCommitted(_ rows: Int, _ what: String) -> Bool {
            let appended = reference.count / bytesPerRow
            if autoCommit == nil {
                #expect(rows == explicitlyCommitted, "\(setup) \(what) after \(history)")
                return rows == explicitlyCommitted
            }
            let ok =
                rows >= explicitlyCommitted && rows <= appended && (rows == explicitlyCommitted || rows % perChunk == 0)
            #expect(
                ok,
                "\(setup) \(what): \(rows) rows, committed \(explicitlyCommitted), appended \(appended) after \(history)"
            )
            return ok
        }

        func check() throws {
            try reader.refresh()
            guard checkCommitted(reader.rowCount, "refreshed reader") else { return }
            let rows = reader.rowCount
            #expect(try readAll(reader) == Array(reference[0..<rows * bytesPerRow]), "\(setup) after \(history)")
            for _ in 0..<4 where rows > 0 {
                let a = Int(random.next() % UInt64(rows + 1))
                let b = Int(random.next() % UInt64(rows + 1))
                let range = min(a, b)..<max(a, b)
                #expect(
                    try reader.read(rows: range)
                        == Array(reference[range.lowerBound * bytesPerRow..<range.upperBound * bytesPerRow]),
                    "\(setup) range \(range) after \(history)")
                let picks = (0..<Int(random.next() % 9)).map { _ in Int(random.next() % UInt64(rows)) }
                #expect(
                    try reader.gather(rows: picks)
                        == picks.flatMap { Array(reference[$0 * bytesPerRow..<($0 + 1) * bytesPerRow]) },
                    "\(setup) gather \(picks) after \(history)")
            }
            let fresh = try ContainerReader(path: path, cacheBytes: 0)
            #expect(fresh.rowCount == rows, "\(setup) fresh reader after \(history)")
            #expect(fresh.header.dtype.descr == descr)
            #expect(fresh.header.rowShape == rowShape)
        }

        for _ in 0..<32 {
            let step: Step
            switch random.next() % 16 {
            case 0..<7: step = .append(rows: Int(random.next() % UInt64(3 * perChunk + 3)))
            case 7..<10: step = .commit
            case 10..<12: step = .closeAndReopen
            case 12: step = .dropWriter
            default: step = .check
            }
            history.append(step)
            switch step {
            case .append(let rows):
                let batch = random.bytes(rows * bytesPerRow)
                // Sometimes row by row, to exercise the small-append path.
                if rows <= 4 && random.next() % 2 == 0 {
                    for row in 0..<rows {
                        try writer?.append(rawRows: Array(batch[row * bytesPerRow..<(row + 1) * bytesPerRow]))
                    }
                } else {
                    try writer?.append(rawRows: batch)
                }
                reference += batch
                #expect(writer?.rowCount == reference.count / bytesPerRow, "\(setup) after \(history)")
            case .commit:
                try writer?.commit()
                explicitlyCommitted = reference.count / bytesPerRow
                #expect(writer?.committedRowCount == explicitlyCommitted, "\(setup) after \(history)")
            case .closeAndReopen:
                try writer?.close()
                explicitlyCommitted = reference.count / bytesPerRow
                writer = try ContainerWriter.open(at: path, options: options)
                #expect(writer?.rowCount == explicitlyCommitted, "\(setup) after \(history)")
            case .dropWriter:
                writer = nil  // a crash: rows appended since the last commit are lost
                writer = try ContainerWriter.open(at: path, options: options)
                let survived = try #require(writer).rowCount
                guard checkCommitted(survived, "rows surviving a dropped writer") else { return }
                reference.removeSubrange((survived * bytesPerRow)...)
                explicitlyCommitted = survived
            case .check:
                try check()
            }
        }
        try writer?.close()
        explicitlyCommitted = reference.count / bytesPerRow
        history.append(.check)
        try check()
        #expect(reader.verify().isEmpty, "\(setup)")
        #expect(reader.commit.rows == reference.count / bytesPerRow)
        #expect(reader.commit.chunks == (reader.commit.rows + perChunk - 1) / perChunk)
    }
}
