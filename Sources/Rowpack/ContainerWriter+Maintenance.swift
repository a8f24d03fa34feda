import RowpackFormat

extension ContainerWriter {
    /// What ``recover(at:)`` found and did.
    public struct Recovery: Sendable {
        /// Rows in the newest valid commit, which the file now ends with.
        public var rows: Int
        /// That commit's sequence number.
        public var commit: UInt64
        /// Bytes after that commit that were cut off (0 if the file was clean).
        public var bytesDropped: Int
    }

    /// Cuts a torn tail (bytes after the newest valid commit, left by a crash mid-commit) off a
    /// container. Readers never need this — they ignore such bytes — and writers do it on open;
    /// it is for tidying a file explicitly and for seeing what a crash left.
    ///
    /// - Throws: ``RowpackError`` `.locked` if a writer has the file, `.corrupt` if no valid
    ///   commit exists.
    public static func recover(at path: String) throws -> Recovery {
        let io = try FileIO.openForWriting(path)
        try io.lockForWriting()
        let size = try io.size()
        let header = try ContainerLayout.readHeader(io, fileSize: size)
        let snapshot = try ContainerLayout.newestCommit(io, header: header, fileSize: size)
        let dropped = size - snapshot.trailer.committedLength
        if dropped > 0 {
            try io.truncate(to: snapshot.trailer.committedLength)
            try io.sync()
        }
        return Recovery(rows: snapshot.rows, commit: snapshot.trailer.sequence, bytesDropped: dropped)
    }
}

extension ContainerReader {
    /// Writes this reader's rows into a new container at `path` in one commit: no superseded
    /// records or index pages (the only dead bytes are the creating commit's empty root and
    /// trailer), chunking and codec from `options`.
    ///
    /// The copy is built aside and appears at `path` only once it is complete, committed and
    /// synced; on any failure `path` keeps what it held. `path` may be this reader's own file
    /// when `overwrite` is set: the file is then compacted in place, safely (it stays whole
    /// until the new copy is durable, and a live writer makes this fail with `.locked`).
    ///
    /// - Parameters:
    ///   - options: chunking, codec, level and shuffle of the copy.
    ///   - overwrite: replace an existing file at `path`.
    /// - Throws: ``RowpackError`` from reading the source or writing the copy; as
    ///   ``ContainerWriter/create(at:dtype:rowShape:options:overwrite:)`` for the destination.
    public func compact(to path: String, options: WriterOptions, overwrite: Bool = false, progress: Progress = { _, _ in }) throws {
        let writer = try ContainerWriter.staged(
            at: path, dtype: header.dtype, rowShape: header.rowShape, options: options, overwrite: overwrite, sources: [io],
            inPlace: overwrite)
        try refresh()  // a commit made before the lock was taken must not be lost when compacting in place
        let perBlock = max(header.rowsPerChunk, Self.exportBlockBytes / header.rowBytes / header.rowsPerChunk * header.rowsPerChunk)
        let total = rowCount
        var start = 0
        while start < total {
            let end = min(total, start + perBlock)
            try writer.append(rawRows: try read(rows: start..<end))
            progress(end, total)
            start = end
        }
        try writer.close()
    }
}
