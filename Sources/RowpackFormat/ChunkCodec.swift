/// How a chunk payload is compressed (`Spec/FORMAT.md` §4, codec byte).
public enum ChunkCodec: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Stored as is.
    case none = 0
    /// zlib stream (RFC 1950), as produced by `compress2`.
    case zlib = 1
    /// One zstd frame with its content size, as produced by `ZSTD_compress`.
    case zstd = 2

    /// The codec's name as the CLI and `info --json` spell it.
    public var description: String {
        switch self {
        case .none: "none"
        case .zlib: "zlib"
        case .zstd: "zstd"
        }
    }

    /// The codec with the given name, or nil.
    public init?(name: String) {
        guard let codec = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = codec
    }

    /// The compression levels the codec accepts.
    public var levels: ClosedRange<Int> {
        switch self {
        case .none: 0...0
        case .zlib: 0...9
        case .zstd: -131072...22
        }
    }

    /// The level used when none is given.
    public var defaultLevel: Int {
        switch self {
        case .none: 0
        case .zlib: 6
        case .zstd: 1
        }
    }
}

/// The reversible transform applied before compression (`Spec/FORMAT.md` §4, filter byte).
public enum ChunkFilter: UInt8, Sendable, CustomStringConvertible {
    /// Bytes are compressed in row order.
    case none = 0
    /// Byte shuffle: byte `j` of every element is gathered into plane `j` (blosc's shuffle).
    case shuffle = 1

    public var description: String {
        switch self {
        case .none: "none"
        case .shuffle: "shuffle"
        }
    }
}
