public import RowpackFormat

/// Appends rows to an existing `.npy` file in place — safely.
///
/// Each ``append(rawRows:)`` writes the rows after the data, syncs them, then rewrites only the
/// header (same length, new shape) and syncs again. A crash at any moment leaves a header that
/// claims at most the rows on disk: numpy loads the previous array, and ``recover(path:)``
/// brings the header up to the whole rows present. Rows must match the file's dtype and row
/// shape exactly (no casts). An exclusive advisory lock keeps a second appender out.
///
/// Not thread-safe.
public final class NpyAppendFile {
    /// The file's path.
    public let path: String
    /// The header as last written.
    public private(set) var header: NpyHeader
    private let io: FileIO
    private let rowBytes: Int
    private let durability: Durability

    /// Opens `path` for appending.
    ///
    /// - Parameters:
    ///   - rewriteHeader: when the header has no room for longer shapes (files from numpy <
    ///     1.24, or other writers), rewrite the file with numpy's canonical header first (via a
    ///     temporary file and a rename). Without it such files are refused.
    /// - Throws: ``RowpackError`` `.mismatch` for 0-d or Fortran-order files, `.corrupt` for a
    ///   file whose data does not end where the header says (run ``recover(path:)``), `.locked`
    ///   if another appender holds it.
    public init(path: String, rewriteHeader: Bool = false, durability: Durability = .durable) throws {
        var file = try NpyFile(path: path, writable: true)
        try file.requireRows()
        guard file.trailingBytes == 0 else {
            throw RowpackError(
                .corrupt, path: path,
                "file has \(file.trailingBytes) bytes after the data its header describes (an interrupted append?); run `rowpack recover` on it first",
                offset: file.header.dataOffset + file.header.dataByteCount)
        }
        try file.io.lockForWriting()
        var largest = file.header.shape
        largest[0] = Int.max / max(1, file.rowBytes)
        if (try? file.header.withShape(largest)) == nil {
            guard rewriteHeader else {
                throw RowpackError(
                    .invalidArgument, path: path,
                    "the .npy header has no room to grow (written by numpy < 1.24 or another tool); allow rewriting it with a canonical header (--rewrite-header)")
            }
            try Self.rewriteCanonical(file, durability: durability)
            file = try NpyFile(path: path, writable: true)
            try file.io.lockForWriting()
        }
        self.path = path
        self.header = file.header
        self.io = file.io
        self.rowBytes = file.rowBytes
        self.durability = durability
    }

    /// Rows in the file.
    public var rows: Int { header.rows }

    /// Appends whole rows given as raw bytes in the file's dtype and row layout.
    ///
    /// - Throws: ``RowpackError`` `.mismatch` for a byte count that is not whole rows; `.io` if
    ///   a write fails, after cutting the file back to its previous length.
    public func append(rawRows rows: UnsafeRawBufferPointer) throws {
        try append { write in try write(rows) }
    }

    /// Appends every row of another `.npy` file, streaming it in blocks.
    ///
    /// - Throws: ``RowpackError`` `.mismatch` naming both dtypes or both row shapes when they differ.
    public func append(npy source: NpyFile, progress: Progress = { _, _ in }) throws {
        try source.requireRows(like: header.dtype, rowShape: header.rowShape, of: path)
        try append { write in
            try source.forEachBlock(blockBytes: 64 << 20) { block, rows in
                try write(block)
                progress(rows.upperBound, source.header.rows)
            }
        }
    }

    /// Appends the rows `fill` hands to its writer, as one transaction: all data is written
    /// (and synced) first, then the header is rewritten once. If anything fails — a write, or
    /// `fill` itself — the file is cut back to its previous length and the header never claimed
    /// the new rows, so the file is unchanged. Memory stays bounded by what `fill` passes.
    ///
    /// A failed sync is final (`Spec/FORMAT.md` §8.8): this appender refuses further work
    /// (`.writerFailed`); rows the header already claims stay, reported as maybe not durable.
    ///
    /// - Throws: ``RowpackError`` `.mismatch` for blocks that are not whole rows, `.io` for
    ///   failed writes or syncs, or whatever `fill` throws.
    public func append(_ fill: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        if io.hasFailedSync {
            throw RowpackError(
                .writerFailed, path: path,
                "an earlier sync failed; nothing more is written through this appender, reopen the file to continue")
        }
        let oldEnd = header.dataOffset + header.dataByteCount
        var end = oldEnd
        /// Whether the header claims the new rows: from then on readers may load them.
        var claimed = false
        do {
            try fill { block in
                guard block.count % rowBytes == 0 else {
                    throw RowpackError(.mismatch, path: path, "\(block.count) bytes are not a whole number of \(rowBytes)-byte rows")
                }
                try io.write(block, at: end)
                end += block.count
            }
            guard end > oldEnd else { return }
            let newHeader: [UInt8]
            do { newHeader = try header.withShape(Self.grown(header.shape, by: (end - oldEnd) / rowBytes)) } catch {
                throw RowpackError(error, path: path)
            }
            let rows = header.rows + (end - oldEnd) / rowBytes
            if durability == .durable { try io.sync("the header still claims \(header.rows) rows") }
            try io.write(newHeader, at: 0)
            claimed = true
            header = try NpyHeader(parsing: newHeader)
            if durability != .none {
                try io.sync("the header claims \(rows) rows and readers may load them, but they may not be durable")
            }
        } catch {
            // Rows the header never claimed are cut off (best effort: no reader used them);
            // claimed rows never are, even when their sync failed (§8.8).
            if !claimed { try? io.truncate(to: oldEnd) }
            throw RowpackError.wrapping(error, path: path)
        }
    }

    /// What ``recover(path:)`` found and did.
    public struct Recovery: Sendable {
        /// Rows the header claimed before.
        public var rowsBefore: Int
        /// Rows the header claims now.
        public var rowsAfter: Int
        /// Bytes of an incomplete last row that were cut off.
        public var bytesDropped: Int
    }

    /// Repairs a `.npy` file whose header lags behind its data (an append interrupted between
    /// writing rows and rewriting the header): the header is set to the whole rows present and
    /// a trailing partial row is cut off.
    ///
    /// - Throws: ``RowpackError`` for unreadable headers or files without room in the header.
    public static func recover(path: String) throws -> Recovery {
        let file = try NpyFile(path: path, writable: true)
        try file.requireRows()
        try file.io.lockForWriting()
        let rowBytes = file.rowBytes
        let extra = file.trailingBytes
        guard extra > 0, rowBytes > 0 else { return Recovery(rowsBefore: file.header.rows, rowsAfter: file.header.rows, bytesDropped: 0) }
        let added = extra / rowBytes
        let dropped = extra % rowBytes
        if dropped > 0 { try file.io.truncate(to: file.fileSize - dropped) }
        try file.io.sync()
        if added > 0 {
            let newHeader: [UInt8]
            do { newHeader = try file.header.withShape(grown(file.header.shape, by: added)) } catch { throw RowpackError(error, path: path) }
            try file.io.write(newHeader, at: 0)
            try file.io.sync()
        }
        return Recovery(rowsBefore: file.header.rows, rowsAfter: file.header.rows + added, bytesDropped: dropped)
    }

    private static func grown(_ shape: [Int], by rows: Int) -> [Int] {
        var shape = shape
        shape[0] += rows
        return shape
    }

    /// Rewrites `file` (open and locked) with numpy's canonical header: data copied to a new
    /// file, synced, renamed over the original, directory synced (``StagedFile``).
    private static func rewriteCanonical(_ file: NpyFile, durability: Durability) throws {
        let staged = try StagedFile.rewriting(file.io, durability: durability)
        try NpyFile.create(in: staged, dtype: file.header.dtype, shape: file.header.shape) { write in
            try file.forEachBlock { block, _ in try write(block) }
        }
    }
}
