import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// 64-bit offsets and row counts in real files: a commit whose chunk lies past 4 GiB in a
/// sparse file, and a container of more than 2^32 rows, both hand-made with the
/// `RowpackFormat` encoders and read with `ContainerReader`.
@Suite struct LargeFileTests {
    /// An uncompressed chunk record for `payload`.
    static func record(chunk: Int, rows: Int, payload: [UInt8]) -> [UInt8] {
        ChunkRecord(
            chunk: chunk, rows: rows, rawLength: payload.count, storedLength: payload.count, codec: .none, level: 0,
            filter: .none, elementSize: 1, payloadChecksum: CRC32C.checksum(payload)
        ).encoded() + payload
    }

    @Test func chunkBeyondFourGiBInASparseFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("sparse.rowpack")
        var random = SeededRandom(seed: 4)
        let rowBytes = 8  // float32 × 2
        let first = random.bytes(4 * rowBytes)
        try makeContainer(
            at: path, dtype: .float32, rowShape: [2], options: testOptions(rowsPerChunk: 4), batches: [first])
        let before = try parseCommit(try fileBytes(path))
        #expect(before.chunks.count == 1)

        // Chunk 1 (3 rows), its leaf, the root and the trailer, from 5 GiB + 3 on.
        let base = (5 << 30) + 3
        let tail = random.bytes(3 * rowBytes)
        let record = Self.record(chunk: 1, rows: 3, payload: tail)
        let chunkExtent = Extent(offset: base, length: record.count)
        let leaf = IndexPage(kind: .leaf, first: 0, entries: [before.chunks[0], chunkExtent]).encoded()
        let leafExtent = Extent(offset: chunkExtent.end, length: leaf.count)
        let root = IndexPage(kind: .root, first: 0, entries: [leafExtent]).encoded()
        let rootExtent = Extent(offset: leafExtent.end, length: root.count)
        let trailerOffset = rootExtent.end
        let hole = base - before.trailer.committedLength
        let trailer = CommitTrailer(
            sequence: before.trailer.sequence + 1, rows: 7, chunks: 2, root: rootExtent,
            rootChecksum: rootChecksum(root),
            previousTrailer: before.trailer.offset, committedLength: trailerOffset + CommitTrailer.size,
            deadBytes: before.trailer.deadBytes + hole + before.leaves[0].length + before.root.length
                + CommitTrailer.size,
            uuid: before.header.uuid, timeNanoseconds: 0)
        try writeAt(path, offset: base, record + leaf + root + trailer.encoded())
        #expect(try fileSize(path) == trailerOffset + CommitTrailer.size)
        #expect(try fileSize(path) > 1 << 32)

        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 7)
        #expect(reader.commit == trailer)
        #expect(reader.commit.committedLength > 1 << 32)
        #expect(try readAll(reader) == first + tail)
        #expect(try reader.read(rows: 4..<7) == tail)
        #expect(try reader.gather(rows: [6, 0, 5]) == Array(tail[16..<24]) + Array(first[0..<8]) + Array(tail[8..<16]))
        #expect(reader.verify().isEmpty)

        // The writer continues past 4 GiB: it reads the partial chunk back from there, rewrites
        // it and adds more.
        let writer = try ContainerWriter.open(at: path, options: WriterOptions(durability: .none))
        #expect(writer.rowCount == 7)
        let more = random.bytes(10 * rowBytes)
        try writer.append(rawRows: more)
        try writer.close()
        #expect(try reader.refresh())
        #expect(reader.rowCount == 17)
        #expect(try readAll(reader) == first + tail + more)
        #expect(reader.verify().isEmpty)
        #expect(reader.commit.deadBytes > hole)

        // Torn inside the writer's commit, the file falls back to the hand-made one past 4 GiB.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(trailer.committedLength + 100))
        try handle.close()
        let tornReader = try ContainerReader(path: path)
        #expect(tornReader.rowCount == 7)
        #expect(try readAll(tornReader) == first + tail)
    }

    @Test func moreThanTwoToThe32Rows() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("many.rowpack")
        // uint8 scalars, 2^31 rows per chunk (a 2 GiB chunk, the largest allowed): chunk 2 of a
        // container of 2^32 + 5 rows holds rows 2^32 ..< 2^32 + 5.
        let perChunk = 1 << 31
        let rows = (1 << 32) + 5
        let header = try FileHeader(
            uuid: Array(0..<16), dtype: .uint8, rowShape: [], rowsPerChunk: perChunk, codec: .none, level: 0,
            filter: .none)
        let headerBytes = header.encoded()
        let payload: [UInt8] = [10, 20, 30, 40, 50]
        // Chunks 0 and 1 (2 GiB each, never read here) are stand-ins: record headers claiming
        // 2^31 rows, with one payload byte that is never decoded.
        let standIns = (0..<2).map { chunk -> [UInt8] in
            let byte = [UInt8(chunk)]
            return ChunkRecord(
                chunk: chunk, rows: perChunk, rawLength: perChunk, storedLength: 1, codec: .zstd, level: 1,
                filter: .none,
                elementSize: 1, payloadChecksum: CRC32C.checksum(byte)
            ).encoded() + byte
        }
        let record = Self.record(chunk: 2, rows: 5, payload: payload)
        var extents: [Extent] = []
        var at = headerBytes.count
        for bytes in standIns + [record] {
            extents.append(Extent(offset: at, length: bytes.count))
            at += bytes.count
        }
        let leaf = IndexPage(kind: .leaf, first: 0, entries: extents).encoded()
        let leafExtent = Extent(offset: at, length: leaf.count)
        let root = IndexPage(kind: .root, first: 0, entries: [leafExtent]).encoded()
        let rootExtent = Extent(offset: leafExtent.end, length: root.count)
        let trailer = CommitTrailer(
            sequence: 1, rows: rows, chunks: 3, root: rootExtent, rootChecksum: rootChecksum(root), previousTrailer: 0,
            committedLength: rootExtent.end + CommitTrailer.size, deadBytes: 0, uuid: header.uuid, timeNanoseconds: 0)
        try writeFile(path, headerBytes + standIns.joined() + record + leaf + root + trailer.encoded())

        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == rows)
        #expect(reader.chunkCount == 3)
        #expect(reader.commit.rows == rows)
        #expect(try reader.read(rows: (1 << 32)..<rows) == payload)
        #expect(try reader.read(rows: (rows - 2)..<rows, as: UInt8.self) == [40, 50])
        #expect(try reader.row(rows - 1, as: UInt8.self) == [50])
        #expect(try reader.gather(rows: [rows - 1, 1 << 32, rows - 3]) == [50, 10, 30])
        expectRowpackError(.invalidArgument) { _ = try reader.read(rows: rows..<rows + 1) }
        expectRowpackError(.mismatch) { _ = try reader.read(rows: 0..<1, as: UInt64.self) }
    }
}
