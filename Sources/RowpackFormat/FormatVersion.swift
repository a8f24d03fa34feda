/// Version and fixed limits of the container format (`Spec/FORMAT.md` §1, §9).
public enum FormatVersion {
    /// Major version written by this library. A reader refuses any other major version.
    public static let major: UInt16 = 1
    /// Minor version written by this library. A reader accepts any minor version of its major
    /// version: minor versions only add optional fields and optional flags.
    public static let minor: UInt16 = 0
}

/// Limits every reader enforces before it allocates (`Spec/FORMAT.md` §9).
public enum FormatLimits {
    /// Largest row rank (dimensions after axis 0): numpy's 64 dimensions minus axis 0.
    public static let maxRowRank = 63
    /// Largest numpy descr text in the header.
    public static let maxDescrBytes = 1 << 20
    /// Largest file header.
    public static let maxHeaderBytes = 80 + 8 * maxRowRank + maxDescrBytes + 12
    /// Largest uncompressed chunk payload (`rowsPerChunk × rowBytes`).
    public static let maxChunkBytes = 1 << 31
    /// Largest rows-per-chunk value (the record's row count is a `UInt32`).
    public static let maxRowsPerChunk = Int(UInt32.max)
    /// Number of chunk entries in one index leaf page that writers use. Readers use the value
    /// the header stores (1...2^20).
    public static let leafCapacity = 4096
}
