import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// Appending to `.npy` files in place: header rewrites across sector boundaries, recover's
/// default (cut what the header does not claim), and hostile row shapes.
@Suite struct NpyAppendFileTests {
    /// A structured dtype whose canonical header for `rows` rows has the sector boundary `into`
    /// bytes after the row count's first digit.
    static func straddlingDType(rows: Int, into: Int) throws -> DType {
        for length in 1...600 {
            let dtype = try DType(descr: "[('\(String(repeating: "n", count: length))', '|u1'), ('b', '<u2')]")
            let header = try NpyHeader.canonical(dtype: dtype, shape: [rows])
            let marker = Array("'shape': (".utf8)
            if let at = header.indices.first(where: { header[$0...].starts(with: marker) }),
                512 - (at + marker.count) == into
            {
                return dtype
            }
        }
        Issue.record("no dtype puts the boundary \(into) bytes into \(rows)")
        return .uint8
    }

    /// The header's digits straddle a sector: the append ends with numpy's canonical header for
    /// the new shape, byte for byte, and the rows in order.
    @Test(arguments: [(12_345, 11_111), (99_999, 1), (9_999, 1)])
    func appendAcrossASectorBoundaryEndsCanonical(rows: Int, added: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("d.npy")
        let dtype = try Self.straddlingDType(rows: rows, into: 2)
        let data = SeededRandom(seed: 7).bytesOf(rows: rows, rowBytes: 3)
        try writeNpy(path, dtype: dtype, rowShape: [], rows: rows, data: data)
        let more = SeededRandom(seed: 8).bytesOf(rows: added, rowBytes: 3)
        let appender = try NpyAppendFile(path: path)
        try more.withUnsafeBytes { try appender.append(rawRows: $0) }
        #expect(appender.rows == rows + added)
        let expected = try NpyHeader.canonical(dtype: dtype, shape: [rows + added]) + data + more
        #expect(try fileBytes(path) == expected)
    }

    /// Bytes after the claimed rows were never acknowledged: recover cuts them unless asked to
    /// adopt them.
    @Test func recoverCutsWhatTheHeaderDoesNotClaim() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("d.npy")
        let data = SeededRandom(seed: 3).bytesOf(rows: 10, rowBytes: 8)
        try writeNpy(path, dtype: .uint64, rowShape: [], rows: 4, data: Array(data[0..<32]))
        let claimed = try fileBytes(path)
        try writeFile(path, claimed + data[32...] + [1, 2, 3])
        let cut = try NpyAppendFile.recover(path: path)
        #expect(cut.rowsBefore == 4 && cut.rowsAfter == 4 && cut.bytesDropped == 48 + 3)
        #expect(try fileBytes(path) == claimed)
        try writeFile(path, claimed + data[32...] + [1, 2, 3])
        let adopted = try NpyAppendFile.recover(path: path, adoptTrailingRows: true)
        #expect(adopted.rowsAfter == 10 && adopted.bytesDropped == 3)
        #expect(try fileBytes(path) == (try NpyHeader.canonical(dtype: .uint64, shape: [10])) + data)
    }

    /// Rows of 2⁸⁰ bytes in an empty array: every opener refuses with an error, never a trap.
    @Test func hostileRowShapeIsAnError() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("h.npy")
        let text = "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }"
        let padding = 64 - (10 + text.utf8.count + 1) % 64
        let length = text.utf8.count + padding + 1
        try writeFile(
            path,
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(text.utf8)
                + Array(repeating: UInt8(ascii: " "), count: padding) + [UInt8(ascii: "\n")])
        expectRowpackError(.corrupt) { _ = try NpyFile(path: path) }
        expectRowpackError(.corrupt) { _ = try NpyAppendFile(path: path) }
        expectRowpackError(.corrupt) { _ = try NpyAppendFile.recover(path: path) }
    }
}
