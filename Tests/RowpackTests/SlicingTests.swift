import Rowpack
import RowpackFormat
import Testing

/// Trailing-axis slicing, `a[rows, s0, s1, …]`, against a reference computed element by element.
@Suite struct SlicingTests {
    /// The reference: every element of rows `range` whose index lies in `slices`, in C order.
    static func reference(_ data: [Int32], shape: [Int], rows range: Range<Int>, slices: [Range<Int>]) -> [Int32] {
        let ranges = shape.enumerated().map { axis, dim in axis < slices.count ? slices[axis] : 0..<dim }
        let perRow = shape.reduce(1, *)
        var result: [Int32] = []
        for row in range {
            for flat in 0..<perRow {
                var rest = flat
                var inside = true
                for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                    if !ranges[axis].contains(rest % shape[axis]) { inside = false }
                    rest /= shape[axis]
                }
                if inside { result.append(data[row * perRow + flat]) }
            }
        }
        return result
    }

    @Test(arguments: 0..<40)
    func randomSlicesMatchTheReference(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) + 1000)
        let rank = Int.random(in: 1...3, using: &random)
        let shape = (0..<rank).map { _ in Int.random(in: 1...6, using: &random) }
        let rows = Int.random(in: 1...60, using: &random)
        let perRow = shape.reduce(1, *)
        let data = (0..<rows * perRow).map { _ in Int32.random(in: .min ... .max, using: &random) }
        let directory = try TemporaryDirectory()
        let path = directory.file("s.rowpack")
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: shape,
            options: WriterOptions(rowsPerChunk: Int.random(in: 1...9, using: &random), durability: .none))
        try writer.append(data)
        try writer.close()
        let reader = try ContainerReader(path: path, cacheBytes: Int.random(in: 0...4096, using: &random))
        for _ in 0..<10 {
            let lower = Int.random(in: 0...rows, using: &random)
            let range = lower..<Int.random(in: lower...rows, using: &random)
            let sliced = Int.random(in: 0...rank, using: &random)
            let slices = shape.prefix(sliced).map { dim -> Range<Int> in
                let start = Int.random(in: 0...dim, using: &random)
                return start..<Int.random(in: start...dim, using: &random)
            }
            let got = try reader.read(rows: range, slicing: slices, as: Int32.self)
            #expect(
                got == Self.reference(data, shape: shape, rows: range, slices: slices),
                "shape \(shape) rows \(range) slices \(slices)")
        }
    }

    @Test func badSlicesAreRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("s.rowpack")
        let writer = try ContainerWriter.create(at: path, dtype: .int32, rowShape: [4, 5])
        try writer.append([Int32](repeating: 7, count: 40))
        try writer.close()
        let reader = try ContainerReader(path: path)
        for slices in [[0..<5], [0..<4, 2..<6], [0..<1, 0..<1, 0..<1]] {
            #expect(throws: RowpackError.self, "\(slices)") { try reader.read(rows: 0..<2, slicing: slices) }
        }
        #expect(throws: RowpackError.self) { try reader.read(rows: 0..<3, slicing: [0..<1]) }
        #expect(try reader.read(rows: 0..<2, slicing: [1..<1]) == [])
        #expect(try reader.read(rows: 1..<2, slicing: [3..<4, 4..<5], as: Int32.self) == [7])
    }
}
