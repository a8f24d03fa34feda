import RowpackFormat
import Testing

// The pure byte structures of `Spec/FORMAT.md`: checksums, encode/decode round trips (with
// 64-bit offsets and counts), and tables of malformed input that must throw `FormatError`,
// never trap.

// MARK: - Helpers

/// Writes `value` little-endian at `offset` of `bytes`.
private func patch<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, _ value: T) -> [UInt8] {
    var copy = bytes
    for i in 0..<T.bitWidth / 8 { copy[offset + i] = UInt8(truncatingIfNeeded: value >> (i * 8)) }
    return copy
}

/// Recomputes the CRC-32C stored at `checksumAt` over the bytes before it, so a patched
/// structure passes its checksum and reaches the field checks.
private func resealed(_ bytes: [UInt8], checksumAt: Int) -> [UInt8] {
    patch(bytes, at: checksumAt, CRC32C.checksum(bytes[0..<checksumAt]))
}

/// A straightforward bitwise CRC-32C, to check the table-driven one against.
private func referenceCRC32C(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

private let uuid: [UInt8] = [0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE, 1, 2, 3, 4, 5, 6, 7, 8]

private func makeHeader(
    descr: String = "'<f4'", rowShape: [Int] = [3], rowsPerChunk: Int = 1000, codec: ChunkCodec = .zstd, level: Int = 1,
    filter: ChunkFilter = .shuffle
) throws -> FileHeader {
    try FileHeader(
        uuid: uuid, dtype: try DType(descr: descr), rowShape: rowShape, rowsPerChunk: rowsPerChunk, codec: codec,
        level: level, filter: filter)
}

// MARK: - CRC-32C

@Suite struct CRC32CTests {
    @Test func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 B.4
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    /// The slicing-by-8 loop agrees with the bitwise definition at every length and alignment,
    /// and seeds continue a checksum.
    @Test func matchesBitwiseDefinition() {
        var random = SplitMix64(seed: 1)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for start in 0..<9 {
            for end in start...min(data.count, start + 70) {
                #expect(CRC32C.checksum(data[start..<end]) == referenceCRC32C(data[start..<end]), "\(start)..<\(end)")
            }
        }
        #expect(CRC32C.checksum(data) == referenceCRC32C(data))
        for cut in [0, 1, 7, 8, 9, 150, 300] {
            let first = CRC32C.checksum(data[0..<cut])
            #expect(CRC32C.checksum(data[cut...], seed: first) == CRC32C.checksum(data), "cut \(cut)")
        }
    }
}

// MARK: - Byte reading primitives

@Suite struct ByteReaderTests {
    @Test func boundsAreChecked() throws {
        var reader = ByteReader([1, 2, 3])
        #expect(throws: FormatError.self) { try reader.read(UInt32.self) }
        #expect(reader.offset == 0, "a failed read does not move")
        #expect(try reader.read(UInt16.self) == 0x0201)
        #expect(throws: FormatError.self) { try reader.readBytes(2) }
        #expect(throws: FormatError.self) { try reader.readBytes(-1) }
        #expect(throws: FormatError.self) { try reader.readBytes(Int.max) }
        #expect(try reader.readBytes(1) == [3])
        #expect(reader.remaining == 0)

        var counts = ByteReader(patch([UInt8](repeating: 0, count: 16), at: 0, UInt64.max))
        #expect(throws: FormatError.self) { try counts.readCount("x") }
        var limited = ByteReader(patch([UInt8](repeating: 0, count: 8), at: 0, UInt64(101)))
        #expect(throws: FormatError.self) { try limited.readCount("x", limit: 100) }

        #expect(rangeFits(start: 10, length: 5, within: 15))
        #expect(!rangeFits(start: 10, length: 6, within: 15))
        #expect(!rangeFits(start: Int.max, length: Int.max, within: Int.max))
        #expect(!rangeFits(start: -1, length: 1, within: 15))
        #expect(!rangeFits(start: 1, length: -1, within: 15))
        #expect(throws: FormatError.self) { try checkedProduct(Int.max / 2, 3, "x") }
        #expect(throws: FormatError.self) { try checkedProduct(-1, 3, "x") }
        #expect(try checkedProduct(1 << 31, 1 << 31, "x") == 1 << 62)
    }
}

// MARK: - File header

@Suite struct FileHeaderTests {
    @Test(arguments: [
        ("'<f4'", [3]), ("'|b1'", []), ("'>f8'", [2, 1, 3]), ("'<U3'", [5]), ("'<M8[ns]'", []),
        ("[('x', '<f4'), ('y', '<i8')]", [4, 4]), ("'|V7'", [1]), ("'<m8[25s]'", [2]),
    ])
    func roundTrip(descr: String, rowShape: [Int]) throws {
        for (codec, level, filter) in [
            (ChunkCodec.zstd, -7, ChunkFilter.shuffle), (.zlib, 9, .none), (.none, 0, .none),
        ] {
            let header = try makeHeader(
                descr: descr, rowShape: rowShape, rowsPerChunk: 12345, codec: codec, level: level, filter: filter)
            let bytes = header.encoded()
            #expect(bytes.count % 8 == 0)
            #expect(Array(bytes[0..<8]) == FileHeader.magic)
            #expect(try FileHeader.length(prefix: Array(bytes[0..<FileHeader.prefixBytes])) == bytes.count)
            let decoded = try FileHeader(decoding: bytes)
            #expect(decoded == header)
            #expect(decoded.dtype.descr == descr)
            #expect(decoded.rowBytes == rowShape.reduce(decoded.dtype.itemSize, *))
            // Trailing bytes after the header (the rest of the file) are not part of it.
            #expect(try FileHeader(decoding: bytes + [1, 2, 3]) == header)
        }
    }

    @Test func largestValues() throws {
        let header = try makeHeader(descr: "'|u1'", rowShape: [], rowsPerChunk: FormatLimits.maxChunkBytes)
        #expect(try FileHeader(decoding: header.encoded()) == header)
        let rank = try makeHeader(
            descr: "'|u1'", rowShape: [Int](repeating: 1, count: FormatLimits.maxRowRank), rowsPerChunk: 1)
        #expect(try FileHeader(decoding: rank.encoded()) == rank)
    }

    @Test func invalidValuesAreRefusedWhenBuilding() throws {
        #expect(throws: FormatError.self) { try makeHeader(rowsPerChunk: 0) }
        #expect(throws: FormatError.self) { try makeHeader(rowShape: [-1]) }
        #expect(throws: FormatError.self) { try makeHeader(rowShape: [Int.max, 2]) }
        #expect(throws: FormatError.self) { try makeHeader(rowShape: [Int](repeating: 1, count: 64)) }
        #expect(throws: FormatError.self) { try makeHeader(rowShape: [1 << 20], rowsPerChunk: 1 << 20) }
        #expect(throws: FormatError.self) { try makeHeader(level: 23) }
        #expect(throws: FormatError.self) { try makeHeader(codec: .zlib, level: 10) }
        #expect(throws: FormatError.self) { try makeHeader(codec: .none, level: 1) }
        #expect(throws: FormatError.self) {
            try FileHeader(
                uuid: [1, 2], dtype: .float32, rowShape: [], rowsPerChunk: 1, codec: .none, level: 0, filter: .none)
        }
        #expect(throws: FormatError.self) {
            try FileHeader(
                uuid: uuid, dtype: .float32, rowShape: [], rowsPerChunk: 1, codec: .none, level: 0, filter: .none,
                leafCapacity: 0)
        }
    }

    @Test func everyTruncationThrows() throws {
        let bytes = try makeHeader(descr: "[('x', '<f4'), ('y', '<i8')]", rowShape: [2, 3]).encoded()
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self, "length \(length)") { try FileHeader(decoding: Array(bytes[0..<length])) }
        }
        for length in 0..<FileHeader.prefixBytes {
            #expect(throws: FormatError.self, "prefix \(length)") {
                try FileHeader.length(prefix: Array(bytes[0..<length]))
            }
        }
    }

    @Test func everyByteFlipThrows() throws {
        let bytes = try makeHeader(rowShape: [2, 3]).encoded()
        for offset in bytes.indices {
            for mask: UInt8 in [0x01, 0x80] {
                var damaged = bytes
                damaged[offset] ^= mask
                #expect(throws: FormatError.self, "byte \(offset) ^ \(mask)") { try FileHeader(decoding: damaged) }
            }
        }
    }

    /// Field offsets (FORMAT §3): 8 major, 10 minor, 12 length, 16 required flags, 20 optional
    /// flags, 24 uuid, 40 rows per chunk, 48 row bytes, 56 item size, 60 rank, 64 codec,
    /// 65 filter, 66 shuffle width, 68 level, 72 leaf capacity, 76 descr length, 80 shape.
    @Test func hostileFieldsThrow() throws {
        let header = try makeHeader(rowShape: [3])
        let bytes = header.encoded()
        let crc = bytes.count - 4
        func sealed(_ patched: [UInt8]) -> [UInt8] { resealed(patched, checksumAt: crc) }
        let cases: [(String, [UInt8])] = [
            ("bad magic", sealed(patch(bytes, at: 0, UInt8(0x88)))),
            ("major 2", sealed(patch(bytes, at: 8, UInt16(2)))),
            ("major 0", sealed(patch(bytes, at: 8, UInt16(0)))),
            ("length UInt32.max", patch(bytes, at: 12, UInt32.max)),
            ("length 0", patch(bytes, at: 12, UInt32(0))),
            ("length not a multiple of 8", patch(bytes, at: 12, UInt32(bytes.count + 4))),
            ("length past the bytes", patch(bytes, at: 12, UInt32(bytes.count + 8))),
            ("required flags", sealed(patch(bytes, at: 16, UInt32(1)))),
            ("rows per chunk UInt64.max", sealed(patch(bytes, at: 40, UInt64.max))),
            ("rows per chunk 0", sealed(patch(bytes, at: 40, UInt64(0)))),
            ("rows per chunk 2^32", sealed(patch(bytes, at: 40, UInt64(1) << 32))),
            ("row bytes UInt64.max", sealed(patch(bytes, at: 48, UInt64.max))),
            ("row bytes wrong", sealed(patch(bytes, at: 48, UInt64(13)))),
            ("item size wrong", sealed(patch(bytes, at: 56, UInt32(8)))),
            ("rank UInt32.max", sealed(patch(bytes, at: 60, UInt32.max))),
            ("rank 63 (shape runs past the header)", sealed(patch(bytes, at: 60, UInt32(63)))),
            ("rank 0 (shape read as descr)", sealed(patch(bytes, at: 60, UInt32(0)))),
            ("codec 3", sealed(patch(bytes, at: 64, UInt8(3)))),
            ("codec 255", sealed(patch(bytes, at: 64, UInt8(255)))),
            ("filter 2", sealed(patch(bytes, at: 65, UInt8(2)))),
            ("level 1000", sealed(patch(bytes, at: 68, Int32(1000)))),
            ("level Int32.min", sealed(patch(bytes, at: 68, Int32.min))),
            ("leaf capacity 0", sealed(patch(bytes, at: 72, UInt32(0)))),
            ("leaf capacity UInt32.max", sealed(patch(bytes, at: 72, UInt32.max))),
            ("descr length UInt32.max", sealed(patch(bytes, at: 76, UInt32.max))),
            ("descr length past the header", sealed(patch(bytes, at: 76, UInt32(bytes.count)))),
            ("dimension UInt64.max", sealed(patch(bytes, at: 80, UInt64.max))),
            ("dimension 2^62 (row bytes overflow)", sealed(patch(bytes, at: 80, UInt64(1) << 62))),
            ("dimension 2^40 (chunk too big)", sealed(patch(bytes, at: 80, UInt64(1) << 40))),
            ("descr not UTF-8", sealed(patch(bytes, at: 88, UInt8(0xFF)))),
            ("descr not a dtype", sealed(patch(bytes, at: 90, UInt8(UInt8(ascii: "O"))))),
            ("empty", []),
            ("all 0xFF", [UInt8](repeating: 0xFF, count: 256)),
        ]
        for (name, damaged) in cases {
            #expect(throws: FormatError.self, "\(name)") { try FileHeader(decoding: damaged) }
        }
        // The untouched header still decodes (the table's base is valid).
        #expect(try FileHeader(decoding: sealed(bytes)) == header)
    }

    @Test func unsupportedVersionIsReportedAsSuch() throws {
        let bytes = patch(try makeHeader().encoded(), at: 8, UInt16(2))
        let error = #expect(throws: FormatError.self) { try FileHeader(decoding: bytes) }
        #expect(error?.code == .unsupportedVersion)
        // A newer minor version is read.
        let bumped = try FileHeader(
            uuid: uuid, dtype: .float32, rowShape: [], rowsPerChunk: 1, codec: .none, level: 0, filter: .none,
            minorVersion: 7)
        #expect(try FileHeader(decoding: bumped.encoded()).minorVersion == 7)
    }
}

// MARK: - Chunk record

@Suite struct ChunkRecordTests {
    static let sample = ChunkRecord(
        chunk: 5_000_000_000, rows: Int(UInt32.max), rawLength: FormatLimits.maxChunkBytes,
        storedLength: ChunkRecord.maxStoredLength(rawLength: FormatLimits.maxChunkBytes), codec: .zstd, level: -131072,
        filter: .shuffle, elementSize: 65535,
        payloadChecksum: 0xDEAD_BEEF)

    @Test(arguments: [
        sample,
        ChunkRecord(
            chunk: 0, rows: 0, rawLength: 0, storedLength: 0, codec: .none, level: 0, filter: .none, elementSize: 1,
            payloadChecksum: 0),
        ChunkRecord(
            chunk: 1 << 40, rows: 7, rawLength: 84, storedLength: 84, codec: .none, level: 0, filter: .shuffle,
            elementSize: 12, payloadChecksum: 1),
        ChunkRecord(
            chunk: 3, rows: 1000, rawLength: 4000, storedLength: 17, codec: .zlib, level: 9, filter: .none,
            elementSize: 1, payloadChecksum: 0xFFFF_FFFF),
        ChunkRecord(
            chunk: Int.max, rows: 1, rawLength: 8, storedLength: 30, codec: .zstd, level: 22, filter: .shuffle,
            elementSize: 8, payloadChecksum: 2),
    ])
    func roundTrip(record: ChunkRecord) throws {
        let bytes = record.encoded()
        #expect(bytes.count == ChunkRecord.size)
        #expect(try ChunkRecord(decoding: bytes) == record)
        #expect(try ChunkRecord(decoding: bytes + [9, 9, 9]) == record, "payload bytes after the header are ignored")
        #expect(record.recordLength == ChunkRecord.size + record.storedLength)
    }

    @Test func malformedInputThrows() throws {
        let bytes = Self.sample.encoded()
        for length in 0..<ChunkRecord.size {
            #expect(throws: FormatError.self, "length \(length)") {
                try ChunkRecord(decoding: Array(bytes[0..<length]))
            }
        }
        for offset in bytes.indices {
            for mask: UInt8 in [0x01, 0x40] {
                var damaged = bytes
                damaged[offset] ^= mask
                #expect(throws: FormatError.self, "byte \(offset) ^ \(mask)") { try ChunkRecord(decoding: damaged) }
            }
        }
        // Fields: 0 magic, 4 rows, 8 chunk, 16 raw length, 24 stored length, 32 codec,
        // 33 filter, 34 shuffle width, 36 level, 40 payload checksum, 44 header checksum.
        func sealed(_ patched: [UInt8]) -> [UInt8] { resealed(patched, checksumAt: 44) }
        let cases: [(String, [UInt8])] = [
            ("bad magic", sealed(patch(bytes, at: 0, UInt32(0x434B_5053)))),
            ("chunk UInt64.max", sealed(patch(bytes, at: 8, UInt64.max))),
            ("raw length UInt64.max", sealed(patch(bytes, at: 16, UInt64.max))),
            ("raw length over the limit", sealed(patch(bytes, at: 16, UInt64(FormatLimits.maxChunkBytes + 1)))),
            ("stored length UInt64.max", sealed(patch(bytes, at: 24, UInt64.max))),
            (
                "stored length over the limit",
                sealed(
                    patch(bytes, at: 24, UInt64(ChunkRecord.maxStoredLength(rawLength: FormatLimits.maxChunkBytes) + 1))
                )
            ),
            ("stored length over the bound for its raw length", sealed(patch(bytes, at: 16, UInt64(1000)))),
            (
                "shuffle width without the shuffle",
                sealed(patch(patch(bytes, at: 33, ChunkFilter.none.rawValue), at: 34, UInt16(4)))
            ),
            ("codec 3", sealed(patch(bytes, at: 32, UInt8(3)))),
            ("filter 9", sealed(patch(bytes, at: 33, UInt8(9)))),
            ("shuffle width 0", sealed(patch(bytes, at: 34, UInt16(0)))),
            ("uncompressed with stored ≠ raw", sealed(patch(bytes, at: 32, ChunkCodec.none.rawValue))),
            ("checksum of other bytes", patch(bytes, at: 44, CRC32C.checksum(bytes[0..<43]))),
            ("zeros", [UInt8](repeating: 0, count: 48)),
        ]
        for (name, damaged) in cases {
            #expect(throws: FormatError.self, "\(name)") { try ChunkRecord(decoding: damaged) }
        }
        #expect(try ChunkRecord(decoding: sealed(bytes)) == Self.sample)
    }
}

// MARK: - Index pages

@Suite struct IndexPageTests {
    static let far = 5 << 32  // 20 GiB

    static let leaf = IndexPage(
        kind: .leaf, first: 3 << 32,
        entries: [
            Extent(offset: 100, length: 48), Extent(offset: far, length: 1 << 31),
            Extent(offset: far + (1 << 31), length: 49),
        ])

    @Test func roundTrip() throws {
        for page in [
            Self.leaf,
            IndexPage(kind: .root, first: 0, entries: []),
            IndexPage(
                kind: .root, first: 0, entries: (0..<300).map { Extent(offset: Self.far + $0 * 65552, length: 65552) }),
            IndexPage(kind: .leaf, first: 0, entries: [Extent(offset: Int.max - 10, length: 10)]),
        ] {
            let bytes = page.encoded()
            #expect(bytes.count == IndexPage.length(entries: page.entries.count))
            #expect(try IndexPage(decoding: bytes, kind: page.kind, floor: 0, limit: Int.max) == page)
            let end = page.entries.map(\.end).max() ?? 0
            #expect(
                try IndexPage(decoding: bytes, kind: page.kind, floor: 0, limit: end) == page,
                "entries may end exactly at the limit")
        }
    }

    @Test func malformedInputThrows() throws {
        let bytes = Self.leaf.encoded()
        let limit = Self.far + (1 << 32)
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self, "length \(length)") {
                try IndexPage(decoding: Array(bytes[0..<length]), kind: .leaf, floor: 0, limit: limit)
            }
        }
        #expect(throws: FormatError.self, "trailing byte") {
            try IndexPage(decoding: bytes + [0], kind: .leaf, floor: 0, limit: limit)
        }
        for offset in bytes.indices {
            var damaged = bytes
            damaged[offset] ^= 0x08
            #expect(throws: FormatError.self, "byte \(offset)") {
                try IndexPage(decoding: damaged, kind: .leaf, floor: 0, limit: limit)
            }
        }
        #expect(throws: FormatError.self, "a leaf is not a root") {
            try IndexPage(decoding: bytes, kind: .root, floor: 0, limit: limit)
        }
        #expect(throws: FormatError.self, "entry past the limit") {
            try IndexPage(decoding: bytes, kind: .leaf, floor: 0, limit: Self.far + (1 << 31) + 48)
        }
        // Fields: 0 magic, 4 count, 8 first, 16 + 16 × i entries (offset, length), then checksum.
        let crc = bytes.count - 4
        func sealed(_ patched: [UInt8]) -> [UInt8] { resealed(patched, checksumAt: crc) }
        let cases: [(String, [UInt8])] = [
            ("count UInt32.max", sealed(patch(bytes, at: 4, UInt32.max))),
            ("count 4", sealed(patch(bytes, at: 4, UInt32(4)))),
            ("count 2", sealed(patch(bytes, at: 4, UInt32(2)))),
            ("first UInt64.max", sealed(patch(bytes, at: 8, UInt64.max))),
            ("offset UInt64.max", sealed(patch(bytes, at: 16, UInt64.max))),
            ("length UInt64.max", sealed(patch(bytes, at: 24, UInt64.max))),
            (
                "offset + length overflows",
                sealed(patch(patch(bytes, at: 32, UInt64(Int.max - 8)), at: 40, UInt64(Int.max - 8)))
            ),
            ("length 0", sealed(patch(bytes, at: 24, UInt64(0)))),
            ("entry past the limit", sealed(patch(bytes, at: 48, UInt64(limit)))),
            ("count 2^28 in a tiny page", sealed(patch(bytes, at: 4, UInt32(1 << 28)))),
        ]
        for (name, damaged) in cases {
            #expect(throws: FormatError.self, "\(name)") {
                try IndexPage(decoding: damaged, kind: .leaf, floor: 0, limit: limit)
            }
        }
        #expect(throws: FormatError.self) { try IndexPage(decoding: [], kind: .root, floor: 0, limit: 0) }
        #expect(throws: FormatError.self, "entry before the floor (inside the file header)") {
            try IndexPage(decoding: bytes, kind: .leaf, floor: 101, limit: limit)
        }
        #expect(try IndexPage(decoding: bytes, kind: .leaf, floor: 100, limit: limit) == Self.leaf)
        let root = IndexPage(kind: .root, first: 0, entries: [Extent(offset: 100, length: 20)]).encoded()
        #expect(throws: FormatError.self, "a root that does not start at 0") {
            try IndexPage(
                decoding: resealed(patch(root, at: 8, UInt64(1)), checksumAt: root.count - 4), kind: .root, floor: 0,
                limit: 1000)
        }
        #expect(try IndexPage(decoding: sealed(bytes), kind: .leaf, floor: 0, limit: limit) == Self.leaf)
    }
}

// MARK: - Commit trailer

@Suite struct CommitTrailerTests {
    /// A header with 1000 rows per chunk.
    static func header() throws -> FileHeader { try makeHeader(rowsPerChunk: 1000) }

    /// A trailer at `offset` with rows past 2^32 and offsets past 4 GiB.
    static func trailer(at offset: Int = (6 << 32) + 1234, rows: Int = 5_000_000_001) -> CommitTrailer {
        let rootLength = min(20_000, offset / 2)
        return CommitTrailer(
            sequence: UInt64.max - 1, rows: rows, chunks: (rows + 999) / 1000,
            root: Extent(offset: offset - rootLength, length: rootLength), rootChecksum: 0xCAFE_F00D,
            previousTrailer: offset / 4, committedLength: offset + CommitTrailer.size, deadBytes: offset / 2,
            uuid: uuid,
            timeNanoseconds: 1_700_000_000_000_000_000)
    }

    @Test func roundTrip() throws {
        let header = try Self.header()
        for trailer in [
            Self.trailer(), Self.trailer(rows: 0), Self.trailer(rows: 1000), Self.trailer(at: 400, rows: 7),
            Self.trailer(at: Int.max - 128 - 100, rows: Int.max / header.rowBytes),
        ] {
            let bytes = trailer.encoded()
            #expect(bytes.count == CommitTrailer.size)
            #expect(Array(bytes[0..<8]) == CommitTrailer.beginMagic)
            #expect(Array(bytes[120..<128]) == CommitTrailer.endMagic)
            let decoded = try CommitTrailer(decoding: bytes, at: trailer.offset, header: header)
            #expect(decoded == trailer)
            #expect(decoded.offset == trailer.committedLength - CommitTrailer.size)
        }
    }

    @Test func malformedInputThrows() throws {
        let header = try Self.header()
        let trailer = Self.trailer()
        let offset = trailer.offset
        let bytes = trailer.encoded()
        for length in 0..<CommitTrailer.size {
            #expect(throws: FormatError.self, "length \(length)") {
                try CommitTrailer(decoding: Array(bytes[0..<length]), at: offset, header: header)
            }
        }
        #expect(throws: FormatError.self, "129 bytes") {
            try CommitTrailer(decoding: bytes + [0], at: offset, header: header)
        }
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x02
            #expect(throws: FormatError.self, "byte \(index)") {
                try CommitTrailer(decoding: damaged, at: offset, header: header)
            }
        }
        #expect(throws: FormatError.self, "read at another offset") {
            try CommitTrailer(decoding: bytes, at: offset + 8, header: header)
        }
        let foreign = try FileHeader(
            uuid: [0] + uuid.dropFirst(), dtype: header.dtype, rowShape: header.rowShape,
            rowsPerChunk: header.rowsPerChunk,
            codec: header.codec, level: header.level, filter: header.filter)
        #expect(throws: FormatError.self, "another file's trailer") {
            try CommitTrailer(decoding: bytes, at: offset, header: foreign)
        }
        let otherChunking = try makeHeader(rowsPerChunk: 999)
        #expect(throws: FormatError.self, "chunk count inconsistent with the header") {
            try CommitTrailer(decoding: bytes, at: offset, header: otherChunking)
        }
        // Fields: 0 magic, 8 size, 12 major, 14 minor, 16 sequence, 24 rows, 32 chunks,
        // 40 root offset, 48 root length, 56 previous trailer, 64 committed length,
        // 72 dead bytes, 80 uuid, 96 time, 104 root checksum, 108 flags, 112 reserved,
        // 116 checksum, 120 end magic.
        func sealed(_ patched: [UInt8]) -> [UInt8] { resealed(patched, checksumAt: 116) }
        let cases: [(String, [UInt8])] = [
            ("size 64", sealed(patch(bytes, at: 8, UInt32(64)))),
            ("major 2", sealed(patch(bytes, at: 12, UInt16(2)))),
            ("rows UInt64.max", sealed(patch(bytes, at: 24, UInt64.max))),
            ("rows 2^63", sealed(patch(bytes, at: 24, UInt64(1) << 63))),
            ("chunks UInt64.max", sealed(patch(bytes, at: 32, UInt64.max))),
            ("chunks one too many", sealed(patch(bytes, at: 32, UInt64(trailer.chunks + 1)))),
            ("chunks one too few", sealed(patch(bytes, at: 32, UInt64(trailer.chunks - 1)))),
            ("root offset UInt64.max", sealed(patch(bytes, at: 40, UInt64.max))),
            ("root at the trailer", sealed(patch(bytes, at: 40, UInt64(offset)))),
            ("root length UInt64.max", sealed(patch(bytes, at: 48, UInt64.max))),
            ("root overlapping the trailer", sealed(patch(bytes, at: 48, UInt64(20_001)))),
            ("root length 0", sealed(patch(bytes, at: 48, UInt64(0)))),
            ("root + length overflows", sealed(patch(patch(bytes, at: 40, UInt64(Int.max)), at: 48, UInt64(Int.max)))),
            ("previous trailer UInt64.max", sealed(patch(bytes, at: 56, UInt64.max))),
            ("previous trailer after this one", sealed(patch(bytes, at: 56, UInt64(offset + 1)))),
            ("committed length UInt64.max", sealed(patch(bytes, at: 64, UInt64.max))),
            ("committed length short", sealed(patch(bytes, at: 64, UInt64(offset)))),
            ("dead bytes UInt64.max", sealed(patch(bytes, at: 72, UInt64.max))),
            ("dead bytes past the trailer", sealed(patch(bytes, at: 72, UInt64(offset + 1)))),
            ("required flags", sealed(patch(bytes, at: 108, UInt32(1)))),
            ("root inside the file header", sealed(patch(bytes, at: 40, UInt64(8)))),
            (
                "rows × row bytes overflow",
                sealed(
                    patch(patch(bytes, at: 24, UInt64(Int.max / 12 + 1)), at: 32, UInt64((Int.max / 12 + 1000) / 1000)))
            ),
            ("end magic", patch(bytes, at: 120, UInt8(0))),
            ("zeros", [UInt8](repeating: 0, count: 128)),
            ("magics only", CommitTrailer.beginMagic + [UInt8](repeating: 0, count: 112) + CommitTrailer.endMagic),
        ]
        for (name, damaged) in cases {
            #expect(throws: FormatError.self, "\(name)") {
                try CommitTrailer(decoding: damaged, at: offset, header: header)
            }
        }
        #expect(try CommitTrailer(decoding: sealed(bytes), at: offset, header: header) == trailer)
        #expect(throws: FormatError.self) { try CommitTrailer(decoding: bytes, at: 0, header: header) }
    }
}

// MARK: - Errors

@Suite struct FormatErrorTests {
    @Test func descriptionNamesPlace() {
        let error = FormatError(.checksumMismatch, at: 100, "payload checksum mismatch")
        #expect(error.description.contains("100"))
        #expect(error.shifted(by: 1000).offset == 1100)
        #expect(error.shifted(by: Int.max).offset != nil, "shifting never traps")
        #expect(FormatError.Code.truncated != FormatError.Code.badMagic)
    }
}
