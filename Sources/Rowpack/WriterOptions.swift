public import RowpackFormat

/// When a commit reaches stable storage (`Spec/FORMAT.md` §8).
public enum Durability: String, Sendable, CaseIterable {
    /// Chunks and index are synced, then the trailer is written and synced. A crash or power
    /// loss at any moment leaves the previous or the new commit. The default.
    case durable
    /// One sync after the trailer. Survives a process crash exactly like `durable`; after a
    /// power loss the disk may have persisted the trailer before what it points to, which the
    /// reader then detects by checksum when it reads those chunks.
    case fast
    /// No syncs: the operating system writes when it likes. Survives a process crash (the page
    /// cache keeps every write), not a power loss. For bulk loads followed by `close()`.
    case none
}

/// How a new container stores its rows.
public struct WriterOptions: Sendable {
    /// Rows per chunk; when nil, chosen so a chunk holds about ``targetChunkBytes``.
    public var rowsPerChunk: Int?
    /// Uncompressed bytes per chunk when ``rowsPerChunk`` is nil. Default 64 KiB: small chunks
    /// keep a random row read to one small decode, and cost zstd-1 little ratio.
    public var targetChunkBytes: Int
    /// Compression codec. Default zstd.
    public var codec: ChunkCodec
    /// Compression level; nil means the codec's default (zstd 1, zlib 6).
    public var level: Int?
    /// Byte shuffle before compression; nil means on for dtypes with multi-byte elements.
    public var shuffle: Bool?
    /// When commits reach the disk. Default `.durable`.
    public var durability: Durability
    /// Commit automatically after this many new chunks have been written; nil for never.
    public var autoCommitChunks: Int?
    /// Chunks compressed concurrently while appending continues; bounds memory to about
    /// `(maxChunksInFlight + 1) × chunk size`. When nil, as many as fit in 8 MiB (at least 2):
    /// enough queued work to keep every core compressing while the appending thread writes.
    public var maxChunksInFlight: Int?
    /// When opening an existing container whose newest commit is damaged (a complete trailer
    /// that fails its checks, ``DamagedCommit``): cut it off with the rest of the tail and
    /// continue from the newest intact commit. Default false: opening refuses, because the
    /// damaged commit was most likely acknowledged and cutting it loses its rows for good.
    public var discardDamagedCommit: Bool

    /// Default options: zstd-1, shuffle for multi-byte elements, 64 KiB chunks, durable commits.
    public init(
        rowsPerChunk: Int? = nil, targetChunkBytes: Int = 64 * 1024, codec: ChunkCodec = .zstd, level: Int? = nil,
        shuffle: Bool? = nil, durability: Durability = .durable, autoCommitChunks: Int? = nil,
        maxChunksInFlight: Int? = nil,
        discardDamagedCommit: Bool = false
    ) {
        self.rowsPerChunk = rowsPerChunk
        self.targetChunkBytes = targetChunkBytes
        self.codec = codec
        self.level = level
        self.shuffle = shuffle
        self.durability = durability
        self.autoCommitChunks = autoCommitChunks
        self.maxChunksInFlight = maxChunksInFlight
        self.discardDamagedCommit = discardDamagedCommit
    }
}
