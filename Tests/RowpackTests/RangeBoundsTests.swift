import Rowpack
import RowpackFormat
import Testing

/// Ranges from users and callers against every size: `RangeBounds` (the CLI's `A:B`) and every
/// public reader entry point taking rows, fed edge values (`Int.min`, `Int.max`, past the end,
/// inverted as text). Nothing may trap: each either selects exactly the rows `0..<count` holds
/// or throws `.invalidArgument`.
@Suite struct RangeBoundsTests {
    /// Ends that matter against `length`, plus random ones.
    static func edge(_ random: inout SeededRandom, length: Int) -> Int {
        let picks = [0, 1, -1, length, length - 1, length &+ 1, Int.max, Int.min, Int.max - 1, length / 2]
        return random.next() % 3 == 0
            ? Int.random(in: -20...20, using: &random) : picks[Int(random.next() % UInt64(picks.count))]
    }

    @Test(arguments: 0..<2000)
    func resolvedBoundsStayInsideTheLength(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed))
        let length = [0, 1, 3, 10, Int.max, Int.random(in: 0...100, using: &random)][seed % 6]
        let lower: Int? = random.next() % 4 == 0 ? nil : Self.edge(&random, length: length)
        let upper: Int? = random.next() % 4 == 0 ? nil : Self.edge(&random, length: length)
        let bounds = RangeBounds(lower: lower, upper: upper)
        let a = lower ?? 0
        let b = upper ?? length
        if let range = bounds.resolved(length: length) {
            #expect(range == a..<b, "\(bounds) against \(length)")
            #expect(range.lowerBound >= 0 && range.upperBound <= length)
        } else {
            #expect(!(a >= 0 && a <= b && b <= length), "\(bounds) against \(length) refused")
        }
    }

    /// The reference parser: two fields split by one colon, each empty or ASCII digits that
    /// fit an `Int`, the first not above the second.
    static func reference(_ text: String) -> RangeBounds? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2 else { return nil }
        var ends: [Int?] = []
        for field in fields {
            if field.isEmpty {
                ends.append(nil)
                continue
            }
            guard field.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let value = Int(field)
            else { return nil }
            ends.append(value)
        }
        if let a = ends[0], let b = ends[1], b < a { return nil }
        return RangeBounds(lower: ends[0], upper: ends[1])
    }

    @Test(arguments: 0..<2000)
    func parsingMatchesTheReference(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed) &+ 77)
        let pieces = ["0", "1", "9", ":", "-", "+", " ", "e", "٣", "9223372036854775807", "9223372036854775808", "00"]
        let text = (0..<Int.random(in: 0...5, using: &random)).map { _ in
            pieces[Int(random.next() % UInt64(pieces.count))]
        }.joined()
        let parsed = RangeBounds(parsing: text)
        #expect(parsed == Self.reference(text), "'\(text)'")
        if let parsed { #expect(RangeBounds(parsing: parsed.description) == parsed) }
    }

    @Test func inputsThatUsedToTrap() {
        #expect(RangeBounds(parsing: "11:")?.resolved(length: 10) == nil)
        #expect(RangeBounds(parsing: "5:")?.resolved(length: 3) == nil)
        #expect(RangeBounds(parsing: "10:")?.resolved(length: 10) == 10..<10)
        #expect(RangeBounds(parsing: "9223372036854775807:")?.resolved(length: Int.max) == Int.max..<Int.max)
        #expect(RangeBounds(parsing: "3:2") == nil)
    }

    // MARK: The reader's public API

    static let rows = 10
    static let shape = [3, 2]

    /// A container of 10 rows of 3 × 2 `Int32` (value = flat index), 4 rows per chunk.
    static func container(_ directory: TemporaryDirectory) throws -> (ContainerReader, [Int32]) {
        let values = (0..<Int32(rows * 6)).map { $0 }
        let path = directory.file("r.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: shape, options: WriterOptions(rowsPerChunk: 4, durability: .none))
        try writer.append(values)
        try writer.close()
        return (try ContainerReader(path: path), values)
    }

    /// A `Range` with edge bounds (always `lower <= upper`, as `Range` requires).
    static func range(_ random: inout SeededRandom, length: Int) -> Range<Int> {
        let a = edge(&random, length: length)
        let b = edge(&random, length: length)
        return min(a, b)..<max(a, b)
    }

    @Test(arguments: 0..<300)
    func readerEntryPointsCheckEveryRange(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) &+ 991)
        let directory = try TemporaryDirectory()
        let (reader, values) = try Self.container(directory)
        let range = Self.range(&random, length: Self.rows)
        let valid = range.lowerBound >= 0 && range.upperBound <= Self.rows
        let expected = valid ? Array(values[range.lowerBound * 6..<range.upperBound * 6]) : []
        func check(_ what: String, _ body: () throws -> [Int32]) {
            if valid {
                #expect((try? body()) == expected, "\(what) \(range)")
            } else {
                _ = expectRowpackError(.invalidArgument, "\(what) \(range)") { _ = try body() }
            }
        }
        check("read(rows:as:)") { try reader.read(rows: range, as: Int32.self) }
        check("read(rows:)") { try reader.read(rows: range).withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) } }
        check("read(rows:slicing:)") { try reader.read(rows: range, slicing: [], as: Int32.self) }
        check("read(rows:into:)") {
            var buffer = [Int32](repeating: 0, count: valid ? range.count * 6 : 6)
            try buffer.withUnsafeMutableBytes { try reader.read(rows: range, into: $0) }
            return buffer
        }
        check("export(to:rows:)") {
            try reader.export(to: directory.file("e.npy"), rows: range, durability: .none)
            return try NpyFile(path: directory.file("e.npy")).header.rows == range.count ? expected : []
        }
        check("export(to:rows:slicing:)") {
            try reader.export(to: directory.file("s.npy"), rows: range, slicing: [0..<3], durability: .none)
            return try NpyFile(path: directory.file("s.npy")).header.rows == range.count ? expected : []
        }
        let index = Self.edge(&random, length: Self.rows)
        let inside = index >= 0 && index < Self.rows
        let row = inside ? Array(values[index * 6..<index * 6 + 6]) : []
        for (what, body) in [
            ("row(_:as:)", { try reader.row(index, as: Int32.self) }),
            ("withRow(_:)", { try reader.withRow(index) { Array($0.bindMemory(to: Int32.self)) } }),
            (
                "gather(rows:)",
                {
                    try reader.gather(rows: [0, index]).withUnsafeBytes {
                        Array($0.bindMemory(to: Int32.self).dropFirst(6))
                    }
                }
            ),
        ] as [(String, () throws -> [Int32])] {
            if inside {
                #expect((try? body()) == row, "\(what) \(index)")
            } else {
                _ = expectRowpackError(.invalidArgument, "\(what) \(index)") { _ = try body() }
            }
        }
        // Slices of the trailing axes against their lengths.
        let slice = Self.range(&random, length: 3)
        let sliceValid = slice.lowerBound >= 0 && slice.upperBound <= 3
        if sliceValid {
            let got = try reader.read(rows: 0..<2, slicing: [slice], as: Int32.self)
            #expect(got.count == 2 * slice.count * 2)
        } else {
            _ = expectRowpackError(.invalidArgument, "slice \(slice)") {
                _ = try reader.read(rows: 0..<2, slicing: [slice], as: Int32.self)
            }
        }
    }
}
