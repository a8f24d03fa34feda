/// The fixed 128-byte structure that ends every commit: the superblock (`Spec/FORMAT.md` §6).
///
/// A commit is valid exactly when its trailer is: both magics, the checksum, its committed length
/// equal to its own end, the file UUID, and a root that ends where the trailer starts (§6.2).
/// Readers open the newest valid trailer; nothing before it is ever rewritten.
public struct CommitTrailer: Hashable, Sendable {
    /// Bytes of a trailer.
    public static let size = 128
    /// First eight bytes: "RPKTRAIL".
    public static let beginMagic: [UInt8] = Array("RPKTRAIL".utf8)
    /// Last eight bytes: "LIARTKPR" (the begin magic reversed), found by the backward scan.
    public static let endMagic: [UInt8] = Array("LIARTKPR".utf8)

    /// Strictly increasing commit number; the creating commit is 1.
    public var sequence: UInt64
    /// Rows committed.
    public var rows: Int
    /// Chunks committed: `ceil(rows / rowsPerChunk)`.
    public var chunks: Int
    /// Where the root index page is.
    public var root: Extent
    /// CRC-32C of the root page (a second check that it belongs to this commit).
    public var rootChecksum: UInt32
    /// Offset of the previous commit's trailer; 0 for the first commit.
    public var previousTrailer: Int
    /// File length this commit covers: the trailer's own offset + 128.
    public var committedLength: Int
    /// Bytes below `committedLength` that the newest index no longer reaches.
    public var deadBytes: Int
    /// The file's UUID, copied from the header.
    public var uuid: [UInt8]
    /// Commit wall-clock time, nanoseconds since the Unix epoch (informational).
    public var timeNanoseconds: UInt64

    /// Creates a trailer.
    public init(
        sequence: UInt64, rows: Int, chunks: Int, root: Extent, rootChecksum: UInt32, previousTrailer: Int,
        committedLength: Int, deadBytes: Int, uuid: [UInt8], timeNanoseconds: UInt64
    ) {
        self.sequence = sequence
        self.rows = rows
        self.chunks = chunks
        self.root = root
        self.rootChecksum = rootChecksum
        self.previousTrailer = previousTrailer
        self.committedLength = committedLength
        self.deadBytes = deadBytes
        self.uuid = uuid
        self.timeNanoseconds = timeNanoseconds
    }

    /// The file offset of this trailer.
    public var offset: Int { committedLength - Self.size }

    /// Decodes the trailer found at file offset `offset` and checks it against `header`.
    ///
    /// - Parameters:
    ///   - bytes: the 128 bytes at `offset`.
    ///   - offset: where they were read.
    ///   - header: the file's header, for the UUID and chunk arithmetic.
    /// - Throws: ``FormatError`` (offsets are file offsets) when any check of §6 fails: `.badMagic`
    ///   when the bytes are no trailer, `.misplaced` for a trailer of another file or offset,
    ///   `.unsupportedVersion`, and any other code for a complete trailer that is damaged (§7.2).
    public init(decoding bytes: [UInt8], at offset: Int, header: FileHeader) throws(FormatError) {
        guard bytes.count == Self.size else {
            throw FormatError(.truncated, at: offset, "commit trailer needs \(Self.size) bytes, have \(bytes.count)")
        }
        guard bytes[0..<8].elementsEqual(Self.beginMagic), bytes[120..<128].elementsEqual(Self.endMagic) else {
            throw FormatError(.badMagic, at: offset, "no commit trailer")
        }
        let stored = UInt32(bytes[116]) | UInt32(bytes[117]) << 8 | UInt32(bytes[118]) << 16 | UInt32(bytes[119]) << 24
        guard CRC32C.checksum(bytes[0..<116]) == stored else {
            throw FormatError(.checksumMismatch, at: offset + 116, "commit trailer checksum mismatch")
        }
        do throws(FormatError) {
            var reader = ByteReader(bytes, from: 8, to: 116)
            guard try reader.read(UInt32.self) == UInt32(Self.size) else {
                throw FormatError(.invalidValue, at: 8, "commit trailer length is not \(Self.size)")
            }
            let major = try reader.read(UInt16.self)
            guard major == FormatVersion.major else {
                throw FormatError(.unsupportedVersion, at: 12, "commit written by format version \(major).x")
            }
            _ = try reader.read(UInt16.self)
            sequence = try reader.read(UInt64.self)
            rows = try reader.readCount("rows")
            chunks = try reader.readCount("chunks")
            let rootOffset = try reader.readCount("root offset")
            let rootLength = try reader.readCount("root length")
            previousTrailer = try reader.readCount("previous trailer")
            committedLength = try reader.readCount("committed length")
            deadBytes = try reader.readCount("dead bytes")
            uuid = Array(try reader.readBytes(16))
            timeNanoseconds = try reader.read(UInt64.self)
            rootChecksum = try reader.read(UInt32.self)
            let flags = try reader.read(UInt32.self)
            guard flags == 0 else {
                throw FormatError(
                    .unsupportedVersion, at: 108,
                    "commit requires unknown features (flags 0x\(String(flags, radix: 16)))")
            }
            root = Extent(offset: rootOffset, length: rootLength)
        } catch {
            throw error.shifted(by: offset)
        }
        guard committedLength == offset.addingReportingOverflow(Self.size).partialValue else {
            throw FormatError(
                .misplaced, at: offset + 64, "committed length \(committedLength) does not end at this trailer")
        }
        guard uuid == header.uuid else {
            throw FormatError(.misplaced, at: offset + 80, "commit trailer belongs to another file (UUID mismatch)")
        }
        let (fullChunks, remainder) = rows.quotientAndRemainder(dividingBy: header.rowsPerChunk)
        guard chunks == fullChunks + (remainder > 0 ? 1 : 0) else {
            throw FormatError(
                .invalidValue, at: offset + 32,
                "\(chunks) chunks cannot hold \(rows) rows of \(header.rowsPerChunk) per chunk")
        }
        guard rows.multipliedReportingOverflow(by: header.rowBytes).overflow == false else {
            throw FormatError(
                .outOfRange, at: offset + 24, "\(rows) rows of \(header.rowBytes) bytes exceed 2^63 bytes")
        }
        guard root.offset >= header.byteCount, rangeFits(start: root.offset, length: root.length, within: offset),
            root.length >= IndexPage.length(entries: 0), previousTrailer < offset, deadBytes <= offset
        else {
            throw FormatError(.outOfRange, at: offset + 40, "commit trailer points outside the committed bytes")
        }
        guard root.length == offset - root.offset else {
            throw FormatError(
                .invalidValue, at: offset + 40,
                "index root \(root.offset)+\(root.length) does not end where its trailer starts")
        }
    }

    /// The encoded trailer.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.size)
        writer.write(bytes: Self.beginMagic)
        writer.write(UInt32(Self.size))
        writer.write(FormatVersion.major)
        writer.write(FormatVersion.minor)
        writer.write(sequence)
        writer.write(UInt64(rows))
        writer.write(UInt64(chunks))
        writer.write(UInt64(root.offset))
        writer.write(UInt64(root.length))
        writer.write(UInt64(previousTrailer))
        writer.write(UInt64(committedLength))
        writer.write(UInt64(deadBytes))
        writer.write(bytes: uuid)
        writer.write(timeNanoseconds)
        writer.write(rootChecksum)
        writer.write(UInt32(0))  // flags
        writer.write(UInt32(0))  // reserved
        writer.writeChecksum()
        writer.write(bytes: Self.endMagic)
        return writer.bytes
    }
}
