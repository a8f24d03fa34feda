public import RowpackFormat

/// Appends rows to an existing `.npy` file in place — safely.
///
/// Each ``append(rawRows:)`` writes the rows after the data, syncs them, then rewrites only the
/// header (same length, new shape) as an ``NpyHeaderUpdate``: one sector write when the change
/// fits in one 512-byte sector, else three one-sector writes, each synced, so that whatever
/// sectors a power loss keeps, the header reads as the old or the new array. A crash at any
/// moment leaves a header that claims at most the rows that are on disk and synced: numpy loads
/// the previous array, and ``recover(path:adoptTrailingRows:)`` cuts the unacknowledged bytes.
/// Rows must match the file's dtype and row shape exactly (no casts). An exclusive advisory
/// lock, taken before the header is read, keeps a second appender out.
///
/// Not thread-safe.
public final class NpyAppendFile {
    /// The file's path.
    public let path: String
    /// The header as last written.
    public var header: NpyHeader { file.header }
    /// The locked file; replaced when the header had to be rewritten through a new file.
    private var file: NpyFile
    /// The header's bytes as they are on disk.
    private var headerBytes: [UInt8]
    private let durability: Durability

    /// Opens `path` for appending: takes the writer's lock, then reads the header.
    ///
    /// - Parameters:
    ///   - rewriteHeader: when the header has no room for longer shapes (files from numpy <
    ///     1.24, or other writers), rewrite the file with numpy's canonical header first (via a
    ///     temporary file and a rename). Without it such files are refused.
    /// - Throws: ``RowpackError`` `.mismatch` for 0-d or Fortran-order files or rows of 0 bytes,
    ///   `.corrupt` for a file whose data does not end where the header says (run
    ///   ``recover(path:adoptTrailingRows:)``), `.locked` if another appender holds it.
    public init(path: String, rewriteHeader: Bool = false, durability: Durability = .durable) throws {
        var file = try NpyFile.lockedForWriting(path)
        try file.requireRows()
        guard file.rowBytes > 0 else {
            throw RowpackError(
                .mismatch, path: path, "rows of shape \(file.header.rowShape) hold 0 bytes: nothing can be appended")
        }
        guard file.trailingBytes == 0 else {
            throw RowpackError(
                .corrupt, path: path,
                "file has \(file.trailingBytes) bytes after the data its header describes (an interrupted append?); run `rowpack recover` on it first (it cuts them; --adopt-trailing-rows keeps them as rows)",
                offset: file.header.dataOffset + file.header.dataByteCount)
        }
        var largest = file.header.shape
        largest[0] = Int.max / file.rowBytes
        do { _ = try file.header.withShape(largest) } catch {
            guard rewriteHeader else {
                throw RowpackError(
                    .invalidArgument, path: path,
                    "the .npy header has no room to grow (written by numpy < 1.24 or another tool); allow rewriting it with a canonical header (--rewrite-header)"
                )
            }
            file = try Self.rewriteCanonical(file, shape: file.header.shape, durability: durability)
        }
        self.path = path
        self.file = file
        self.headerBytes = try file.io.read(count: file.header.dataOffset, at: 0, what: "the .npy header")
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
    /// (and synced) first, then the header is rewritten. If anything fails before the header
    /// is touched — a write, or `fill` itself — the file is cut back to its previous length and
    /// the header never claimed the new rows, so the file is unchanged. If the header rewrite
    /// itself fails, the rows stay (they are synced, and the header may already claim them).
    /// Memory stays bounded by what `fill` passes.
    ///
    /// A failed sync is final (`Spec/FORMAT.md` §8.8): this appender refuses further work
    /// (`.writerFailed`); rows the header already claims stay, reported as maybe not durable.
    ///
    /// - Throws: ``RowpackError`` `.mismatch` for blocks that are not whole rows, `.io` for
    ///   failed writes or syncs, or whatever `fill` throws.
    public func append(_ fill: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        if file.io.hasFailedSync {
            throw RowpackError(
                .writerFailed, path: path,
                "an earlier sync failed; nothing more is written through this appender, reopen the file to continue")
        }
        let rowBytes = header.rowBytes
        let oldEnd = header.dataOffset + header.dataByteCount
        var end = oldEnd
        do {
            try fill { block in
                guard block.count % rowBytes == 0 else {
                    throw RowpackError(
                        .mismatch, path: path, "\(block.count) bytes are not a whole number of \(rowBytes)-byte rows")
                }
                try file.io.write(block, at: end)
                end += block.count
            }
            guard end > oldEnd else { return }
            if durability == .durable { try file.io.sync("the header still claims \(header.rows) rows") }
        } catch {
            try? file.io.truncate(to: oldEnd)  // best effort: the header never claimed these bytes
            throw RowpackError.wrapping(error, path: path)
        }
        do {
            try publish(shape: Self.grown(header.shape, by: (end - oldEnd) / rowBytes))
        } catch {
            let error = RowpackError.wrapping(error, path: path)
            throw RowpackError(
                error.code, path: path,
                "\(error.message) (while updating the header: the file holds the previous or the new rows; `rowpack recover` cuts what its header does not claim)",
                errno: error.errno)
        }
    }

    /// Rewrites the header for `shape` as planned by ``NpyHeaderUpdate``, syncing after each
    /// step; when no in-place plan is safe, replaces the file with a canonical copy instead.
    private func publish(shape: [Int]) throws {
        let new: [UInt8]
        do { new = try header.withShape(shape) } catch { throw RowpackError(error, path: path) }
        let plan: NpyHeaderUpdate?
        do { plan = try NpyHeaderUpdate(from: headerBytes, to: new) } catch { throw RowpackError(error, path: path) }
        guard let plan else {
            file = try Self.rewriteCanonical(file, shape: shape, durability: durability)
            headerBytes = try file.io.read(count: file.header.dataOffset, at: 0, what: "the .npy header")
            return
        }
        for step in plan.steps {
            try file.io.write(step.bytes, at: step.offset)
            if durability != .none { try file.io.sync() }
        }
        let header: NpyHeader
        do { header = try NpyHeader(parsing: new) } catch { throw RowpackError(error, path: path) }
        file = NpyFile(path: path, header: header, fileSize: header.dataOffset + header.dataByteCount, io: file.io)
        headerBytes = new
    }

    /// What ``recover(path:adoptTrailingRows:)`` found and did.
    public struct Recovery: Sendable {
        /// Rows the header claimed before.
        public var rowsBefore: Int
        /// Rows the header claims now.
        public var rowsAfter: Int
        /// Bytes cut off the end: everything the header did not claim, or with
        /// `adoptTrailingRows` only an incomplete last row.
        public var bytesDropped: Int
    }

    /// Repairs a `.npy` file that an interrupted append left with bytes after the data its
    /// header describes.
    ///
    /// By default those bytes are cut off: no append acknowledged them (an append syncs its rows
    /// before the header claims them), and after a power loss they may read as zeros or stale
    /// blocks, so they cannot be trusted as rows. With `adoptTrailingRows`, the header is instead
    /// set to claim every whole row present (only a trailing partial row is cut): for files whose
    /// writer updates the header late (npy-append-array until it is closed), when the caller
    /// knows those bytes are real rows. The lock is taken before the header is read.
    ///
    /// - Throws: ``RowpackError`` for unreadable headers, `.locked` if a writer holds the file,
    ///   or (adopting) a header without room for the longer shape.
    public static func recover(path: String, adoptTrailingRows: Bool = false) throws -> Recovery {
        let file = try NpyFile.lockedForWriting(path)
        try file.requireRows()
        let rowsBefore = file.header.rows
        let extra = file.trailingBytes
        guard extra > 0 else { return Recovery(rowsBefore: rowsBefore, rowsAfter: rowsBefore, bytesDropped: 0) }
        let dataEnd = file.header.dataOffset + file.header.dataByteCount
        guard adoptTrailingRows, file.rowBytes > 0 else {
            try file.io.truncate(to: dataEnd)
            try file.io.sync()
            return Recovery(rowsBefore: rowsBefore, rowsAfter: rowsBefore, bytesDropped: extra)
        }
        let added = extra / file.rowBytes
        let dropped = extra % file.rowBytes
        if dropped > 0 { try file.io.truncate(to: file.fileSize - dropped) }
        try file.io.sync()
        if added > 0 {
            let appender = try NpyAppendFile(adopting: file)
            try appender.publish(shape: grown(file.header.shape, by: added))
        }
        return Recovery(rowsBefore: rowsBefore, rowsAfter: rowsBefore + added, bytesDropped: dropped)
    }

    /// An appender over `file`, already locked, whose header will be made to claim rows
    /// present after its data.
    private init(adopting file: NpyFile) throws {
        self.path = file.path
        self.file = file
        self.headerBytes = try file.io.read(count: file.header.dataOffset, at: 0, what: "the .npy header")
        self.durability = .durable
    }

    private static func grown(_ shape: [Int], by rows: Int) -> [Int] {
        var shape = shape
        shape[0] += rows  // cannot overflow: the rows are bytes in the file, at least 1 each
        return shape
    }

    /// Replaces `file` (open and locked) with a copy of shape `shape` (its data: `shape`'s bytes
    /// from the file's data offset) under numpy's canonical header, through ``StagedFile``: data
    /// copied to a new file, synced, renamed over the original, directory synced. The new file is
    /// locked before it gets the name, so no other appender can come between; it is returned.
    private static func rewriteCanonical(_ file: NpyFile, shape: [Int], durability: Durability) throws -> NpyFile {
        let staged = try StagedFile.rewriting(file.io, durability: durability)
        try staged.io.lockUnnamed()
        try NpyFile.create(in: staged, dtype: file.header.dtype, shape: shape) { write in
            try file.forEachBlock(rows: shape[0]) { block, _ in try write(block) }
        }
        return try NpyFile(path: file.path, io: staged.io)
    }
}
