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
    /// - Parameters:
    ///   - options: chunking, codec, level and shuffle of the copy.
    ///   - overwrite: replace an existing file at `path`.
    /// - Throws: ``RowpackError`` from reading the source or writing the copy.
    public func compact(to path: String, options: WriterOptions, overwrite: Bool = false, progress: Progress = { _, _ in }) throws {
        let writer = try ContainerWriter.create(at: path, dtype: header.dtype, rowShape: header.rowShape, options: options, overwrite: overwrite)
        // Blocks as an export streams them: two buffers, allocated once the first chunk passed its checks.
        try streamBlocks(0..<rowCount, progress: progress) { block in try writer.append(rawRows: block) }
        try writer.close()
    }
}
