/// The self-describing header in front of every chunk payload (`Spec/FORMAT.md` §4).
///
/// A record is `ChunkRecord.size` header bytes followed by `storedLength` payload bytes. It names
/// its chunk, row count, codec and sizes, and checksums both itself and the payload, so a repair
/// tool can rebuild the index by walking records even with every trailer lost.
public struct ChunkRecord: Hashable, Sendable {
    /// Magic of a chunk record: "RPKC".
    public static let magic: UInt32 = 0x434B_5052
    /// Bytes of the record header.
    public static let size = 48

    /// Chunk number: the chunk holds rows `chunk × rowsPerChunk ..< chunk × rowsPerChunk + rows`.
    public var chunk: Int
    /// Rows in the chunk.
    public var rows: Int
    /// Bytes after decompression and unfiltering: `rows × rowBytes`.
    public var rawLength: Int
    /// Bytes of payload that follow the header.
    public var storedLength: Int
    /// How the payload is compressed.
    public var codec: ChunkCodec
    /// The level it was compressed with (informational).
    public var level: Int
    /// The filter applied before compression.
    public var filter: ChunkFilter
    /// Element width of the byte shuffle (1 when `filter` is `.none`).
    public var elementSize: Int
    /// CRC-32C of the payload.
    public var payloadChecksum: UInt32

    /// Creates a record header.
    public init(
        chunk: Int, rows: Int, rawLength: Int, storedLength: Int, codec: ChunkCodec, level: Int,
        filter: ChunkFilter, elementSize: Int, payloadChecksum: UInt32
    ) {
        self.chunk = chunk
        self.rows = rows
        self.rawLength = rawLength
        self.storedLength = storedLength
        self.codec = codec
        self.level = level
        self.filter = filter
        self.elementSize = elementSize
        self.payloadChecksum = payloadChecksum
    }

    /// The most payload bytes a chunk of `rawLength` bytes may store: `rawLength + rawLength / 128
    /// + 1024`, above what zstd and zlib need for incompressible data (`Spec/FORMAT.md` §9).
    public static func maxStoredLength(rawLength: Int) -> Int {
        rawLength + rawLength / 128 + 1024
    }

    /// The fewest payload bytes that can hold `rawLength` bytes in `codec` (`Spec/FORMAT.md`
    /// §4.1): no codec expands further (zstd at most 32768:1, with RLE blocks; deflate at most
    /// 1032:1), so a shorter payload is corrupt — and is refused before its output is allocated.
    public static func minStoredLength(rawLength: Int, codec: ChunkCodec) -> Int {
        switch codec {
        case .none: rawLength
        case .zstd: rawLength / 32768
        case .zlib: rawLength / 1032
        }
    }

    /// Total bytes of the record, header included.
    public var recordLength: Int { Self.size + storedLength }

    /// Decodes and checks a record header from the first ``size`` bytes of `bytes`.
    ///
    /// Checks the magic, the header checksum, the codec and filter values (an unknown one is
    /// `.unsupportedVersion`, §11) and the limits of `FormatLimits`, including the codec's
    /// ``minStoredLength(rawLength:codec:)``; the caller checks the chunk number, row count and sizes against the index.
    /// Offsets in errors are relative to `bytes`.
    public init(decoding bytes: [UInt8]) throws(FormatError) {
        guard bytes.count >= Self.size else {
            throw FormatError(.truncated, at: 0, "chunk record header needs \(Self.size) bytes, have \(bytes.count)")
        }
        var reader = ByteReader(bytes, to: Self.size)
        guard try reader.read(UInt32.self) == Self.magic else {
            throw FormatError(.badMagic, at: 0, "bad chunk record magic")
        }
        let stored = UInt32(bytes[44]) | UInt32(bytes[45]) << 8 | UInt32(bytes[46]) << 16 | UInt32(bytes[47]) << 24
        guard CRC32C.checksum(bytes[0..<44]) == stored else {
            throw FormatError(.checksumMismatch, at: 44, "chunk record header checksum mismatch")
        }
        rows = Int(try reader.read(UInt32.self))
        chunk = try reader.readCount("chunk number")
        rawLength = try reader.readCount("raw length", limit: FormatLimits.maxChunkBytes)
        storedLength = try reader.readCount("stored length")
        // Unknown values belong to a newer minor version (§11): unsupported, not corrupt.
        guard let codec = ChunkCodec(rawValue: try reader.read(UInt8.self)) else {
            throw FormatError(.unsupportedVersion, at: 32, "unknown codec \(bytes[32]) (written by a newer version)")
        }
        guard let filter = ChunkFilter(rawValue: try reader.read(UInt8.self)) else {
            throw FormatError(.unsupportedVersion, at: 33, "unknown filter \(bytes[33]) (written by a newer version)")
        }
        self.codec = codec
        self.filter = filter
        elementSize = Int(try reader.read(UInt16.self))
        guard elementSize >= 1, filter == .shuffle || elementSize == 1 else {
            throw FormatError(.invalidValue, at: 34, "element size \(elementSize) is not valid for filter \(filter)")
        }
        level = Int(try reader.read(Int32.self))
        payloadChecksum = try reader.read(UInt32.self)
        guard storedLength >= Self.minStoredLength(rawLength: rawLength, codec: codec) else {
            throw FormatError(
                .outOfRange, at: 24,
                "stored length \(storedLength) is too short to hold \(rawLength) raw bytes in \(codec)")
        }
        guard storedLength <= Self.maxStoredLength(rawLength: rawLength) else {
            throw FormatError(
                .outOfRange, at: 24, "stored length \(storedLength) exceeds the bound for \(rawLength) raw bytes")
        }
        if codec == .none, rawLength != storedLength {
            throw FormatError(.invalidValue, at: 24, "uncompressed chunk stores \(storedLength) bytes for \(rawLength)")
        }
    }

    /// The encoded record header (`Spec/FORMAT.md` §4).
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.size)
        writer.write(Self.magic)
        writer.write(UInt32(rows))
        writer.write(UInt64(chunk))
        writer.write(UInt64(rawLength))
        writer.write(UInt64(storedLength))
        writer.write(codec.rawValue)
        writer.write(filter.rawValue)
        writer.write(UInt16(elementSize))
        writer.write(Int32(level))
        writer.write(payloadChecksum)
        writer.writeChecksum()
        return writer.bytes
    }
}
