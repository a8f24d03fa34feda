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
        "u1_multicommit", "u1_torn_tail", "u1_shuffle_requested", "struct_aligned_padding", "zstd_dictid0",
    ]

    /// One entry of `Spec/vectors/hostile/expected.json`.
    struct HostileCase: Decodable, Sendable, CustomTestStringConvertible {
        var name = ""
        let error: String
        let at: String
        let chunk: Int?
        let readable: [Int]
        let message: String
        var testDescription: String { name }

        enum CodingKeys: String, CodingKey { case error, at, chunk, readable, message }
    }

    static let hostile: [HostileCase] = {
        let url = URL(fileURLWithPath: "\(directory)/hostile/expected.json")
        guard let data = try? Data(contentsOf: url),
            let table = try? JSONDecoder().decode([String: HostileCase].self, from: data)
        else { return [] }  // the test below then fails: it expects nine cases
        return table.sorted { $0.key < $1.key }.map { name, entry in
            var entry = entry
            entry.name = name
            return entry
        }
    }()

    @Test func hostileVectorsAreListed() {
        #expect(Self.hostile.count == 9)
    }

    /// Each hostile vector is refused with the class (`.corrupt` or `.unsupported`), at the
    /// place and naming the chunk `expected.json` gives; the chunks it lists as sound read back.
    @Test(arguments: hostile)
    func hostileVectorIsRefused(_ entry: HostileCase) throws {
        let path = "\(Self.directory)/hostile/\(entry.name)"
        let code: RowpackError.Code = entry.error == "unsupported" ? .unsupported : .corrupt
        if entry.at == "open" {
            let error = expectRowpackError(code, entry.name) { _ = try ContainerReader(path: path) }
            #expect(error?.message.contains(entry.message) == true, "\(String(describing: error))")
            return
        }
        let reader = try ContainerReader(path: path)
        let rows = reader.header.rowsPerChunk
        let chunk = try #require(entry.chunk)
        let error = expectRowpackError(code, entry.name) { _ = try reader.read(rows: chunk * rows..<chunk * rows + 1) }
        #expect(error?.chunk == chunk)
        #expect(error?.message.contains(entry.message) == true, "\(String(describing: error))")
        for sound in entry.readable {
            _ = try reader.read(rows: sound * rows..<min(reader.rowCount, (sound + 1) * rows))
        }
        #expect(reader.verify().contains { $0.code == code && $0.chunk == chunk })
    }

    /// The reference writer's own vector of a width-1 dtype with the shuffle requested says
    /// filter 0 in its header (§4.2); so does a container it creates now.
    @Test func widthOneShuffleWritesFilterNone() throws {
        let reader = try ContainerReader(path: "\(Self.directory)/u1_shuffle_requested.rowpack")
        #expect(reader.header.filter == .none)
        let directory = try TemporaryDirectory()
        // An earlier writer's header, filter 1 for a width of 1: valid, and it shuffles nothing.
        let earlier = try FileHeader(
            uuid: [UInt8](repeating: 1, count: 16), dtype: .uint8, rowShape: [3], rowsPerChunk: 4, codec: .none,
            level: 0,
            filter: .shuffle)
        try writeFile(directory.file("earlier.rowpack"), handBuiltContainer(header: earlier, rows: 0, records: []))
        let old = try ContainerReader(path: directory.file("earlier.rowpack"))
        #expect(old.header.filter == .shuffle && !old.header.shufflesByDefault)
        let writer = try ContainerWriter.create(
            at: directory.file("a.rowpack"), dtype: .uint8, rowShape: [3], options: WriterOptions(shuffle: true))
        try writer.close()
        #expect(try ContainerReader(path: directory.file("a.rowpack")).header.filter == .none)
    }

    @Test(arguments: names)
    func vectorHoldsItsArray(name: String) throws {
        let reader = try ContainerReader(path: "\(Self.directory)/\(name).rowpack")
        let expected = try NpyFile(path: "\(Self.directory)/\(name).npy")
        #expect(reader.header.dtype == expected.header.dtype)
        #expect(reader.header.rowShape == expected.header.rowShape)
        #expect(reader.rowCount == expected.header.rows)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/\(name).npy")).dropFirst(
            expected.header.dataOffset)
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
        let size =
            try FileManager.default.attributesOfItem(atPath: "\(Self.directory)/u1_torn_tail.rowpack")[.size] as? Int
        #expect(torn.commit.committedLength < size ?? 0)
        #expect(torn.commit.sequence == clean.commit.sequence)
        #expect(try torn.read(rows: 0..<torn.rowCount) == clean.read(rows: 0..<clean.rowCount))
    }
}
