/// The fixed header at offset 0 of every container (`Spec/FORMAT.md` §3).
///
/// Written once when the file is created and never modified. It says what one row is (dtype,
/// row shape), how rows are grouped into chunks, and the writer's default codec settings.
public struct FileHeader: Hashable, Sendable {
    /// The first eight bytes of every container: `89 52 50 4B 0D 0A 1A 0A` ("\x89RPK\r\n\x1a\n").
    public static let magic: [UInt8] = [0x89, 0x52, 0x50, 0x4B, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Bytes before the row shape.
    static let fixedBytes = 80
    /// Enough bytes to learn a header's total length.
    public static let prefixBytes = 16

    /// Random identifier copied into every commit trailer.
    public let uuid: [UInt8]
    /// The numpy dtype of one element.
    public let dtype: DType
    /// The array shape without axis 0; empty for one scalar per row.
    public let rowShape: [Int]
    /// Rows in every chunk but the last one of a commit.
    public let rowsPerChunk: Int
    /// Default codec of new chunks (each chunk records its own).
    public let codec: ChunkCodec
    /// Default compression level of new chunks.
    public let level: Int
    /// Default filter of new chunks.
    public let filter: ChunkFilter
    /// Entries per index leaf page.
    public let leafCapacity: Int
    /// Minor version of the file, as written.
    public let minorVersion: UInt16
    /// Bytes of one row: `dtype.itemSize × product(rowShape)`; never 0.
    public let rowBytes: Int
    /// Bytes of the header in the file: as decoded, or as ``encoded()`` writes it.
    public private(set) var byteCount: Int

    /// Whether new chunks are byte-shuffled by default: the filter is shuffle and the dtype's
    /// element width is above 1. Earlier writers stored filter 1 for 1-byte types, where the
    /// shuffle is the identity and every record says filter 0 (`Spec/FORMAT.md` §4.2).
    public var shufflesByDefault: Bool { filter == .shuffle && dtype.shuffleElementSize > 1 }

    /// Creates a header after checking every value against the format's limits.
    ///
    /// - Throws: ``FormatError`` with `.outOfRange` or `.invalidValue` when a value is outside
    ///   `FormatLimits`, or when one chunk would exceed `FormatLimits.maxChunkBytes`.
    public init(
        uuid: [UInt8], dtype: DType, rowShape: [Int], rowsPerChunk: Int,
        codec: ChunkCodec, level: Int, filter: ChunkFilter,
        leafCapacity: Int = FormatLimits.leafCapacity, minorVersion: UInt16 = FormatVersion.minor
    ) throws(FormatError) {
        guard uuid.count == 16 else { throw FormatError(.invalidValue, "file UUID must be 16 bytes") }
        guard rowShape.count <= FormatLimits.maxRowRank else {
            throw FormatError(.outOfRange, "row rank \(rowShape.count) exceeds \(FormatLimits.maxRowRank)")
        }
        var rowBytes = dtype.itemSize
        for dim in rowShape {
            guard dim >= 0 else { throw FormatError(.outOfRange, "row shape \(rowShape) has a negative dimension") }
            rowBytes = try checkedProduct(rowBytes, dim, "row size of shape \(rowShape)")
        }
        guard rowsPerChunk >= 1, rowsPerChunk <= FormatLimits.maxRowsPerChunk else {
            throw FormatError(
                .outOfRange, "rows per chunk \(rowsPerChunk) must be in 1...\(FormatLimits.maxRowsPerChunk)")
        }
        guard rowBytes > 0 else {
            throw FormatError(
                .outOfRange,
                "rows of dtype \(dtype) and shape \(rowShape) hold 0 bytes; rows must hold at least one byte")
        }
        let chunkBytes = try checkedProduct(rowsPerChunk, rowBytes, "chunk size")
        guard chunkBytes <= FormatLimits.maxChunkBytes else {
            throw FormatError(
                .outOfRange,
                "a chunk of \(rowsPerChunk) rows × \(rowBytes) bytes exceeds \(FormatLimits.maxChunkBytes) bytes")
        }
        guard codec.levels.contains(level) else {
            throw FormatError(.outOfRange, "level \(level) is not valid for \(codec) (\(codec.levels))")
        }
        guard leafCapacity >= 1, leafCapacity <= 1 << 20 else {
            throw FormatError(.outOfRange, "leaf capacity \(leafCapacity) must be in 1...\(1 << 20)")
        }
        guard dtype.descr.utf8.count <= FormatLimits.maxDescrBytes else {
            throw FormatError(.outOfRange, "dtype description exceeds \(FormatLimits.maxDescrBytes) bytes")
        }
        self.uuid = uuid
        self.dtype = dtype
        self.rowShape = rowShape
        self.rowsPerChunk = rowsPerChunk
        self.codec = codec
        self.level = level
        self.filter = filter
        self.leafCapacity = leafCapacity
        self.minorVersion = minorVersion
        self.rowBytes = rowBytes
        self.byteCount = Self.encodedLength(rank: rowShape.count, descrBytes: dtype.descr.utf8.count)
    }

    /// Total length of an encoded header, given its first ``prefixBytes`` bytes.
    ///
    /// - Throws: ``FormatError`` if the magic, major version, required flags or length are wrong.
    public static func length(prefix: [UInt8]) throws(FormatError) -> Int {
        var reader = ByteReader(prefix)
        let magic = try reader.readBytes(8)
        guard magic.elementsEqual(Self.magic) else {
            throw FormatError(.badMagic, at: 0, "not a rowpack container (bad magic)")
        }
        let major = try reader.read(UInt16.self)
        guard major == FormatVersion.major else {
            throw FormatError(
                .unsupportedVersion, at: 8,
                "format version \(major).x is not supported (this reader reads \(FormatVersion.major).x)")
        }
        _ = try reader.read(UInt16.self)
        let length = Int(try reader.read(UInt32.self))
        guard length >= fixedBytes + 4, length <= FormatLimits.maxHeaderBytes, length % 8 == 0 else {
            throw FormatError(.outOfRange, at: 12, "header length \(length) is not valid")
        }
        return length
    }

    /// Decodes a header from exactly `length(prefix:)` bytes.
    ///
    /// - Throws: ``FormatError`` naming the field and byte offset of the first problem.
    public init(decoding bytes: [UInt8]) throws(FormatError) {
        let length = try Self.length(prefix: Array(bytes.prefix(Self.prefixBytes)))
        guard bytes.count >= length else {
            throw FormatError(.truncated, at: bytes.count, "header needs \(length) bytes, file has \(bytes.count)")
        }
        let stored =
            UInt32(bytes[length - 4]) | UInt32(bytes[length - 3]) << 8
            | UInt32(bytes[length - 2]) << 16 | UInt32(bytes[length - 1]) << 24
        guard CRC32C.checksum(bytes[0..<length - 4]) == stored else {
            throw FormatError(.checksumMismatch, at: length - 4, "header checksum mismatch")
        }
        var reader = ByteReader(bytes, from: 10, to: length - 4)
        let minor = try reader.read(UInt16.self)
        _ = try reader.read(UInt32.self)
        let required = try reader.read(UInt32.self)
        guard required == 0 else {
            throw FormatError(
                .unsupportedVersion, at: 16, "header requires unknown features (flags 0x\(String(required, radix: 16)))"
            )
        }
        _ = try reader.read(UInt32.self)  // optional flags: none defined, ignored
        // An unknown codec or filter belongs to a newer minor version: unsupported, not corrupt,
        // and checked before any other field (§3.1 step 7, §11). `length` ≥ 84 holds both bytes.
        guard let codec = ChunkCodec(rawValue: bytes[64]) else {
            throw FormatError(
                .unsupportedVersion, at: 64, "unknown default codec \(bytes[64]) (written by a newer version)")
        }
        guard let filter = ChunkFilter(rawValue: bytes[65]) else {
            throw FormatError(
                .unsupportedVersion, at: 65, "unknown default filter \(bytes[65]) (written by a newer version)")
        }
        let uuid = Array(try reader.readBytes(16))
        let rowsPerChunk = try reader.readCount("rows per chunk", limit: FormatLimits.maxRowsPerChunk)
        let rowBytes = try reader.readCount("row bytes", limit: FormatLimits.maxChunkBytes)
        let itemSize = Int(try reader.read(UInt32.self))
        let rank = Int(try reader.read(UInt32.self))
        guard rank <= FormatLimits.maxRowRank else {
            throw FormatError(.outOfRange, at: 60, "row rank \(rank) exceeds \(FormatLimits.maxRowRank)")
        }
        _ = try reader.read(UInt16.self)  // codec and filter, checked above
        _ = try reader.read(UInt16.self)  // default shuffle element size: derived from the dtype
        let level = Int(try reader.read(Int32.self))
        let leafCapacity = Int(try reader.read(UInt32.self))
        let descrLength = Int(try reader.read(UInt32.self))
        var rowShape: [Int] = []
        for _ in 0..<rank { rowShape.append(try reader.readCount("row shape dimension")) }
        let descrAt = reader.offset
        guard let descr = String(validating: try reader.readBytes(descrLength), as: UTF8.self) else {
            throw FormatError(.invalidValue, at: descrAt, "dtype description is not UTF-8")
        }
        let dtype: DType
        do { dtype = try DType(descr: descr) } catch { throw error.shifted(by: descrAt) }
        guard dtype.itemSize == itemSize else {
            throw FormatError(
                .invalidValue, at: 56, "item size \(itemSize) does not match dtype \(dtype) (\(dtype.itemSize))")
        }
        do {
            try self.init(
                uuid: uuid, dtype: dtype, rowShape: rowShape, rowsPerChunk: rowsPerChunk,
                codec: codec, level: level, filter: filter, leafCapacity: leafCapacity, minorVersion: minor)
        } catch {
            throw FormatError(error.code, at: 40, error.detail)
        }
        guard self.rowBytes == rowBytes else {
            throw FormatError(
                .invalidValue, at: 48, "row bytes \(rowBytes) do not match dtype and row shape (\(self.rowBytes))")
        }
        byteCount = length
    }

    /// Length of an encoded header: fixed part, shape, descr and checksum, padded to 8 bytes.
    static func encodedLength(rank: Int, descrBytes: Int) -> Int {
        (fixedBytes + 8 * rank + descrBytes + 4 + 7) / 8 * 8
    }

    /// The encoded header: see `Spec/FORMAT.md` §3 for the layout.
    public func encoded() -> [UInt8] {
        let descr = Array(dtype.descr.utf8)
        let unpadded = Self.fixedBytes + 8 * rowShape.count + descr.count + 4
        let length = Self.encodedLength(rank: rowShape.count, descrBytes: descr.count)
        var writer = ByteWriter(capacity: length)
        writer.write(bytes: Self.magic)
        writer.write(FormatVersion.major)
        writer.write(minorVersion)
        writer.write(UInt32(length))
        writer.write(UInt32(0))
        writer.write(UInt32(0))
        writer.write(bytes: uuid)
        writer.write(UInt64(rowsPerChunk))
        writer.write(UInt64(rowBytes))
        writer.write(UInt32(dtype.itemSize))
        writer.write(UInt32(rowShape.count))
        writer.write(codec.rawValue)
        writer.write(filter.rawValue)
        writer.write(UInt16(dtype.shuffleElementSize))
        writer.write(Int32(level))
        writer.write(UInt32(leafCapacity))
        writer.write(UInt32(descr.count))
        for dim in rowShape { writer.write(UInt64(dim)) }
        writer.write(bytes: descr)
        writer.writeZeros(length - unpadded)
        writer.writeChecksum()
        return writer.bytes
    }
}
