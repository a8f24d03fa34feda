import Foundation
import Rowpack
import RowpackFormat
import Testing

/// The golden containers of `Spec/vectors/` (Spec/FORMAT.md §12): every reader of format 1.x
/// must read them, forever. Each `NAME.rowpack` holds exactly the array in `NAME.npy`.
@Suite struct GoldenVectorTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Spec/vectors").path

    static let names: [String] = [
        "f4_zstd_shuffle", "i8_zlib", "struct_none", "f8_bigendian_zstd3", "datetime_ns", "U3_zstd",
        "u1_multicommit", "u1_torn_tail",
    ]

    @Test(arguments: names)
    func vectorHoldsItsArray(name: String) throws {
        let reader = try ContainerReader(path: "\(Self.directory)/\(name).rowpack")
        let expected = try NpyFile(path: "\(Self.directory)/\(name).npy")
        #expect(reader.header.dtype == expected.header.dtype)
        #expect(reader.header.rowShape == expected.header.rowShape)
        #expect(reader.rowCount == expected.header.rows)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/\(name).npy")).dropFirst(expected.header.dataOffset)
        #expect(try reader.read(rows: 0..<reader.rowCount) == Array(data))
        #expect(reader.verify().isEmpty)
    }

    @Test func multiCommitVectorRecordsItsHistory() throws {
        let reader = try ContainerReader(path: "\(Self.directory)/u1_multicommit.rowpack")
        #expect(reader.commit.sequence == 4)
        #expect(reader.commit.deadBytes > 0)
        #expect(reader.header.rowsPerChunk == 5)
    }

    @Test func tornTailVectorOpensAtItsLastCommit() throws {
        let torn = try ContainerReader(path: "\(Self.directory)/u1_torn_tail.rowpack")
        let clean = try ContainerReader(path: "\(Self.directory)/u1_multicommit.rowpack")
        let size = try FileManager.default.attributesOfItem(atPath: "\(Self.directory)/u1_torn_tail.rowpack")[.size] as? Int
        #expect(torn.commit.committedLength < size ?? 0)
        #expect(torn.commit.sequence == clean.commit.sequence)
        #expect(try torn.read(rows: 0..<torn.rowCount) == clean.read(rows: 0..<clean.rowCount))
    }
}
