/// Where one chunk record or one index leaf lives in the file: an index entry.
public struct Extent: Hashable, Sendable {
    /// Byte offset of the record in the file.
    public var offset: Int
    /// Total bytes of the record.
    public var length: Int

    /// Creates an extent.
    public init(offset: Int, length: Int) {
        self.offset = offset
        self.length = length
    }

    /// The offset just past the extent.
    public var end: Int { offset + length }
}

/// An index page: a leaf lists the chunk records of `leafCapacity` consecutive chunks, the root
/// lists the leaves (`Spec/FORMAT.md` §5).
///
/// Leaf `j` covers chunks `j × leafCapacity ..< (j + 1) × leafCapacity`, so finding a chunk is
/// arithmetic. Full leaves are written once and never again; each commit writes the leaves it
/// changed (at most the tail leaf, plus new ones) and a new root.
public struct IndexPage: Hashable, Sendable {
    /// Which kind of page this is.
    public enum Kind: UInt32, Sendable {
        /// "RPKL": entries are chunk records.
        case leaf = 0x4C4B_5052
        /// "RPKR": entries are leaf pages.
        case root = 0x524B_5052
    }

    /// Bytes before the entries.
    static let headerBytes = 16
    /// Bytes of one entry.
    static let entryBytes = 16

    /// Leaf or root.
    public var kind: Kind
    /// For a leaf, the number of its first chunk; 0 for the root.
    public var first: Int
    /// The extents this page lists, in chunk (or leaf) order.
    public var entries: [Extent]

    /// Creates a page.
    public init(kind: Kind, first: Int, entries: [Extent]) {
        self.kind = kind
        self.first = first
        self.entries = entries
    }

    /// Encoded size of a page of `count` entries.
    public static func length(entries count: Int) -> Int { headerBytes + entryBytes * count + 4 }

    /// Decodes a page and checks its magic, checksum and length.
    ///
    /// - Parameters:
    ///   - bytes: exactly the page's bytes.
    ///   - kind: the kind the referring structure expects.
    ///   - floor: entries must start at or after this file offset (the end of the file header).
    ///   - limit: entries must end at or before this file offset (the page's own offset).
    /// - Throws: ``FormatError`` with offsets relative to `bytes`.
    public init(decoding bytes: [UInt8], kind: Kind, floor: Int = 0, limit: Int) throws(FormatError) {
        var reader = ByteReader(bytes)
        guard try reader.read(UInt32.self) == kind.rawValue else {
            throw FormatError(.badMagic, at: 0, "bad index \(kind) page magic")
        }
        let count = Int(try reader.read(UInt32.self))
        guard bytes.count == Self.length(entries: count) else {
            throw FormatError(
                .outOfRange, at: 4, "index \(kind) page of \(bytes.count) bytes cannot hold \(count) entries")
        }
        let stored =
            UInt32(bytes[bytes.count - 4]) | UInt32(bytes[bytes.count - 3]) << 8
            | UInt32(bytes[bytes.count - 2]) << 16 | UInt32(bytes[bytes.count - 1]) << 24
        guard CRC32C.checksum(bytes[0..<bytes.count - 4]) == stored else {
            throw FormatError(.checksumMismatch, at: bytes.count - 4, "index \(kind) page checksum mismatch")
        }
        self.kind = kind
        first = try reader.readCount("first chunk")
        guard kind == .leaf || first == 0 else {
            throw FormatError(.invalidValue, at: 8, "index root must start at 0, says \(first)")
        }
        entries = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let at = reader.offset
            let offset = try reader.readCount("entry offset")
            let length = try reader.readCount("entry length")
            guard offset >= floor, rangeFits(start: offset, length: length, within: limit), length > 0 else {
                throw FormatError(
                    .outOfRange, at: at, "index entry \(offset)+\(length) lies outside the committed bytes (\(limit))")
            }
            // Records and leaves are appended in order, so entries are increasing and disjoint;
            // anything else (one record listed twice, say) is corruption.
            if let previous = entries.last, offset < previous.end {
                throw FormatError(
                    .invalidValue, at: at,
                    "index entry at \(offset) overlaps or precedes the previous entry (ends at \(previous.end))")
            }
            entries.append(Extent(offset: offset, length: length))
        }
    }

    /// The encoded page.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.length(entries: entries.count))
        writer.write(kind.rawValue)
        writer.write(UInt32(entries.count))
        writer.write(UInt64(first))
        for entry in entries {
            writer.write(UInt64(entry.offset))
            writer.write(UInt64(entry.length))
        }
        writer.writeChecksum()
        return writer.bytes
    }
}

extension IndexPage.Kind: CustomStringConvertible {
    public var description: String { self == .leaf ? "leaf" : "root" }
}
