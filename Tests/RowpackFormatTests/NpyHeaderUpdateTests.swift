import Testing

@testable import RowpackFormat

/// In-place header rewrites under the power-loss model: every per-sector mix of the bytes before
/// and after each step of an ``NpyHeaderUpdate`` must parse as the old or the new array.
@Suite struct NpyHeaderUpdateTests {
    /// A structured dtype of `fields` fields whose first name is `nameLength` long: moves the
    /// shape's digits across every offset of a sector as `nameLength` grows.
    static func dtype(fields: Int, nameLength: Int) throws -> DType {
        let names = [String(repeating: "n", count: nameLength)] + (1..<max(1, fields)).map { "f\($0)" }
        return try DType(descr: "[" + names.map { "('\($0)', '<u2')" }.joined(separator: ", ") + "]")
    }

    /// First-name lengths for which the row count's first digit lies 1…24 bytes before a sector
    /// boundary (the count and its tail straddle it), plus every 61st length as a control. The
    /// digit moves one byte per name byte, so one header locates it for every length.
    static func nameLengths(fields: Int) throws -> [Int] {
        let header = try NpyHeader.canonical(dtype: dtype(fields: fields, nameLength: 1), shape: [1])
        let marker = Array("'shape': (".utf8)
        let first = try #require(header.indices.firstIndex { header[$0...].starts(with: marker) }) + marker.count
        let size = NpyHeaderUpdate.sectorSize
        return (1...520).filter { length in
            (1...24).contains(size - (first + length - 1) % size) || (fields < 500 && length % 61 == 0)
        }
    }

    /// Row-count transitions: same digit count, digit growth, and the first rows.
    static let transitions: [(Int, Int)] = [
        (12_345, 23_456), (99_999, 100_000), (9, 10), (0, 1), (999_999_999, 1_000_000_000), (1, 2),
        (123_456_789_012, 123_456_789_013),
    ]

    /// The states a crash during `plan` can leave, starting from `old`: every mix, per 512-byte
    /// sector, of the bytes before and after each step (computed from the bytes, not from the plan).
    static func crashStates(of plan: NpyHeaderUpdate, from old: [UInt8]) -> (states: [[UInt8]], final: [UInt8]) {
        var current = old
        var states: [[UInt8]] = []
        for step in plan.steps {
            var next = current
            next.replaceSubrange(step.offset..<step.offset + step.bytes.count, with: step.bytes)
            let size = NpyHeaderUpdate.sectorSize
            let changed = stride(from: 0, to: old.count, by: size).filter {
                current[$0..<min(old.count, $0 + size)] != next[$0..<min(old.count, $0 + size)]
            }
            for mask in 0..<(1 << changed.count) {
                var mix = current
                for (bit, start) in changed.enumerated() where mask & (1 << bit) != 0 {
                    let range = start..<min(old.count, start + size)
                    mix.replaceSubrange(range, with: next[range])
                }
                states.append(mix)
            }
            current = next
        }
        return (states, current)
    }

    /// Checks every crash state of rewriting the canonical header of `dtype` × `rowShape` from
    /// `from` to `to` rows. Returns whether an in-place plan existed, and the states checked.
    static func check(dtype: DType, rowShape: [Int], from: Int, to: Int) throws -> (inPlace: Bool, states: Int) {
        let old = try NpyHeader.canonical(dtype: dtype, shape: [from] + rowShape)
        let header = try NpyHeader(parsing: old)
        let new = try header.withShape([to] + rowShape)
        guard let plan = try NpyHeaderUpdate(from: old, to: new) else { return (false, 0) }
        #expect(plan.steps.count <= 3)
        #expect(plan.steps.allSatisfy { $0.offset % 512 == 0 && $0.bytes.count <= 512 })
        let (states, final) = crashStates(of: plan, from: old)
        #expect(final == new, "the plan must end at the new header, byte for byte")
        for state in states {
            let parsed = try NpyHeader(parsing: state)
            #expect(parsed.dtype == dtype && parsed.dataOffset == old.count)
            #expect(
                parsed.shape == [from] + rowShape || parsed.shape == [to] + rowShape,
                "a crash state reads as shape \(parsed.shape) (\(from) → \(to), \(old.count)-byte header)")
        }
        return (true, states.count)
    }

    /// Headers of 128 B to 2 KiB, the digits at every offset near a 512-byte boundary: every crash
    /// state of every plan reads as the old or the new array; a plan exists for every change of
    /// the same digit count (the fallback is left to digit growth at a few boundary positions).
    @Test(arguments: [1, 8, 60, 120])
    func everySectorMixReadsAsOldOrNew(fields: Int) throws {
        try Self.checkEveryMix(fields: fields, transitions: Self.transitions)
    }

    /// 8 KiB headers (500 fields), the digits straddling a boundary, same and growing digit counts.
    @Test func eightKiBHeaders() throws {
        try Self.checkEveryMix(fields: 500, transitions: [(12_345, 23_456), (99_999, 100_000)])
    }

    static func checkEveryMix(fields: Int, transitions: [(Int, Int)]) throws {
        var states = 0
        var fallbacks: [String] = []
        for nameLength in try Self.nameLengths(fields: fields) {
            let dtype = try Self.dtype(fields: fields, nameLength: nameLength)
            for rowShape in [[], [3, 4]] {
                for (from, to) in transitions {
                    let result = try Self.check(dtype: dtype, rowShape: rowShape, from: from, to: to)
                    states += result.states
                    if !result.inPlace {
                        #expect(
                            String(from).count != String(to).count,
                            "no in-place plan for \(from) → \(to) (name \(nameLength), \(fields) fields)")
                        fallbacks.append("\(from)→\(to)@\(nameLength)")
                    }
                }
            }
        }
        #expect(states > 0)
        // Digit growth leaves no plan only where the boundary cuts the tuple's end: few cases.
        let cases = try Self.nameLengths(fields: fields).count * 2 * transitions.count
        #expect(fallbacks.count <= cases / 10, "\(fallbacks.count) fallbacks of \(cases): \(fallbacks)")
    }

    /// The shape digits straddle a sector boundary: the plan takes three one-sector steps, and
    /// its intermediate states carry a duplicate `shape` entry that decides.
    @Test func straddlingDigitsTakeThreeSteps() throws {
        for nameLength in try Self.nameLengths(fields: 30) {
            let dtype = try Self.dtype(fields: 30, nameLength: nameLength)  // ~1 KiB headers
            let old = try NpyHeader.canonical(dtype: dtype, shape: [12_345])
            let new = try NpyHeader(parsing: old).withShape([23_456])
            let differing = old.indices.filter { old[$0] != new[$0] }
            let straddles = differing.first! / 512 != differing.last! / 512
            let plan = try #require(try NpyHeaderUpdate(from: old, to: new))
            #expect(plan.steps.count == (straddles ? 3 : 1), "name \(nameLength)")
            if straddles {
                let (states, _) = Self.crashStates(of: plan, from: old)
                let middle = String(decoding: states[1], as: UTF8.self)
                #expect(middle.contains("'shape':(23456,)}"), "\(middle)")
            }
        }
    }

    @Test func equalHeadersNeedNoWrite() throws {
        let old = try NpyHeader.canonical(dtype: .float64, shape: [5, 2])
        #expect(try NpyHeaderUpdate(from: old, to: old)?.steps == [])
    }

    @Test func headersOfDifferentLengthsAreRefused() throws {
        let old = try NpyHeader.canonical(dtype: .float64, shape: [5])
        let new = try NpyHeader.canonical(dtype: try Self.dtype(fields: 20, nameLength: 3), shape: [5])
        #expect(throws: FormatError.self) { try NpyHeaderUpdate(from: old, to: new) }
    }
}
