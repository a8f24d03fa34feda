import RowpackFormat

extension ContainerWriter {
    /// What ``recover(at:discardDamaged:)`` found and did.
    public struct Recovery: Sendable {
        /// Rows in the newest valid commit, which the file now ends with.
        public var rows: Int
        /// That commit's sequence number.
        public var commit: UInt64
        /// Bytes after that commit that were cut off (0 if the file was clean).
        public var bytesDropped: Int
        /// The damaged newer commit that was cut off with them, if there was one.
        public var discarded: DamagedCommit?
    }

    /// Cuts a torn tail (bytes after the newest valid commit, left by a crash mid-commit) off a
    /// container. Readers never need this — they ignore such bytes — and writers do it on open;
    /// it is for tidying a file explicitly and for seeing what a crash left.
    ///
    /// - Parameter discardDamaged: also cut a damaged newest commit (``DamagedCommit``) and
    ///   keep the newest intact one; without it such a file is refused.
    /// - Throws: ``RowpackError`` `.locked` if a writer has the file, `.corrupt` if no valid
    ///   commit exists or the newest one is damaged (without `discardDamaged`).
    public static func recover(at path: String, discardDamaged: Bool = false) throws -> Recovery {
        let io = try FileIO.openForWriting(path)
        try io.lockForWriting()
        let size = try io.size()
        let (_, snapshot, damage) = try cutTail(io, size: size, discardDamaged: discardDamaged)
        return Recovery(
            rows: snapshot.rows, commit: snapshot.trailer.sequence,
            bytesDropped: size - snapshot.trailer.committedLength, discarded: damage)
    }

    /// Finds the newest valid commit of the locked file `io` and cuts off what follows it (`Spec/FORMAT.md`
    /// §8.6), refusing when that would cut a damaged commit and `discardDamaged` is false.
    static func cutTail(_ io: FileIO, size: Int, discardDamaged: Bool) throws -> (
        header: FileHeader, snapshot: Snapshot, damage: DamagedCommit?
    ) {
        let header = try ContainerLayout.readHeader(io, fileSize: size)
        let (snapshot, search) = try CommitSearch.newest(io, header: header, fileSize: size)
        if let damage = search.damage, !discardDamaged {
            throw RowpackError(
                .corrupt, path: io.path,
                "\(damage); refusing to cut it, which would keep commit \(snapshot.trailer.sequence) (\(snapshot.rows) rows, \(size - snapshot.trailer.committedLength) bytes dropped): `rowpack recover --discard-damaged` does that",
                offset: damage.trailerOffset)
        }
        if snapshot.trailer.committedLength < size {
            try io.truncate(to: snapshot.trailer.committedLength)
            try io.sync()
        }
        return (header, snapshot, search.damage)
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
    public func compact(
        to path: String, options: WriterOptions, overwrite: Bool = false, progress: Progress = { _, _ in }
    ) throws {
        let writer = try ContainerWriter.staged(
            at: path, dtype: header.dtype, rowShape: header.rowShape, options: options, overwrite: overwrite,
            sources: [io],
            inPlace: overwrite)
        try refresh()  // a commit made before the lock was taken must not be lost when compacting in place
        if let damage = damagedCommit, try io.isFile(at: path) {
            // Rebuilding in place would drop the damaged commit for good: that takes an explicit recover.
            throw RowpackError(
                .corrupt, path: path,
                "\(damage); compacting in place would drop it (run `rowpack recover --discard-damaged` first, or compact to another file)",
                offset: damage.trailerOffset)
        }
        // Blocks as an export streams them: two buffers, allocated once the first chunk passed its checks.
        try streamBlocks(0..<rowCount, progress: progress) { block in try writer.append(rawRows: block) }
        try writer.close()
    }
}
