import Dispatch
public import RowpackFormat
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Appends rows to a container: the only type that writes one.
///
/// Rows are copied into a chunk buffer; each full chunk is filtered and compressed on a
/// background thread while appending continues (at most ``WriterOptions/maxChunksInFlight``
/// chunks at once, so memory stays bounded). ``commit()`` writes the partial tail chunk, the
/// changed index pages and a commit trailer, in the order of `Spec/FORMAT.md` §8.
///
/// One writer per file: creating or opening takes an advisory exclusive lock, and a second
/// writer gets a `.locked` error. Not thread-safe: use one writer from one thread at a time.
/// Rows appended but not committed are lost if the process dies or the writer is dropped
/// without ``close()``.
public final class ContainerWriter {
    /// The container's fixed header: dtype, row shape, chunking, default codec.
    public let header: FileHeader
    /// The file's path (its destination, for a container not yet published).
    public let path: String

    private let io: FileIO
    private let durability: Durability
    private let encoding: ChunkEncoding
    private let autoCommitChunks: Int?
    private let maxChunksInFlight: Int
    private let chunkBytes: Int

    /// The newest commit in the file.
    private var committed: Snapshot
    /// Rows appended, committed or not.
    public private(set) var rowCount: Int
    /// Rows in the newest commit.
    public var committedRowCount: Int { committed.rows }

    /// Rows of the chunk being filled (the tail chunk), and how many there are.
    private var buffer: [UInt8]
    private var bufferedRows: Int
    /// Whether the tail chunk has rows not yet written in its current state.
    private var bufferDirty = false

    /// Chunks being compressed, oldest first.
    private var inFlight: [PendingChunk] = []
    /// Record bytes waiting to be written at `end - pending.count`.
    private var pending: [UInt8] = []
    /// Where the next byte goes.
    private var end: Int

    /// Index leaves of the newest commit, then entries of chunks from `tailStart` on.
    private var leaves: [Extent]
    private var tailStart: Int
    private var entries: [Extent]
    /// The lowest chunk number whose record changed since the last commit.
    private var firstDirtyChunk: Int
    /// Bytes superseded since the last commit (old records of rewritten chunks).
    private var supersededBytes = 0
    private var chunksSinceCommit = 0
    /// Set when a write failed: the file was cut back to the last commit and this writer
    /// refuses further work.
    private var failure: RowpackError?
    private var isClosed = false
    /// The new file and its destination, until it is published there.
    private var staging: StagedFile?

    private init(io: FileIO, header: FileHeader, snapshot: Snapshot, options: WriterOptions, leafEntries: [Extent]) {
        self.io = io
        self.path = io.path
        self.header = header
        self.durability = options.durability
        self.autoCommitChunks = options.autoCommitChunks
        self.maxChunksInFlight = max(
            1, options.maxChunksInFlight ?? max(2, (8 << 20) / (header.rowsPerChunk * header.rowBytes)))
        self.encoding = ChunkEncoding(
            codec: header.codec, level: header.level, filter: header.filter,
            elementSize: header.dtype.shuffleElementSize)
        self.chunkBytes = header.rowsPerChunk * header.rowBytes
        self.committed = snapshot
        self.rowCount = snapshot.rows
        self.end = snapshot.trailer.committedLength
        self.leaves = snapshot.leaves
        self.tailStart = max(0, snapshot.leaves.count - 1) * header.leafCapacity
        self.entries = leafEntries
        self.firstDirtyChunk = snapshot.chunks
        self.buffer = []  // grown as rows arrive: a huge chunk size costs nothing until it fills
        self.bufferedRows = 0
    }

    // MARK: Creating and opening

    /// Creates a new container holding no rows, and returns its writer.
    ///
    /// The file appears atomically: header and first (empty) commit are written to a new
    /// unnamed file in the same directory, synced and linked into place (`Spec/FORMAT.md` §8.1),
    /// so `path` never holds a half-made container; then it grows by commits. An existing file
    /// is replaced only if it is a regular file that no writer holds.
    ///
    /// - Parameters:
    ///   - path: where to create it.
    ///   - dtype: the numpy dtype of one element.
    ///   - rowShape: the shape of one row (the array shape without axis 0); `[]` for scalars.
    ///   - options: chunking, codec and durability.
    ///   - overwrite: replace an existing file instead of failing.
    /// - Throws: ``RowpackError`` `.invalidArgument` if the file exists (without `overwrite`),
    ///   is not a regular file or is a symbolic link, or the options are out of range; `.locked`
    ///   if a writer holds the file being replaced; `.io` if a system call fails.
    public static func create(
        at path: String, dtype: DType, rowShape: [Int], options: WriterOptions = WriterOptions(),
        overwrite: Bool = false
    ) throws -> ContainerWriter {
        let writer = try staged(at: path, dtype: dtype, rowShape: rowShape, options: options, overwrite: overwrite)
        try writer.publish()
        return writer
    }

    /// Creates a container aside that appears at `path` only when ``close()`` has committed and
    /// synced it (the staged mode of import and compact): until then `path` keeps what it held,
    /// and if the writer fails or is dropped, or the process dies, nothing of it remains.
    ///
    /// - Parameters:
    ///   - sources: the files the rows come from; `path` must not be one of them unless
    ///     `inPlace` (`compact X X`).
    /// - Throws: as ``create(at:dtype:rowShape:options:overwrite:)``.
    static func staged(
        at path: String, dtype: DType, rowShape: [Int], options: WriterOptions, overwrite: Bool, sources: [FileIO] = [],
        inPlace: Bool = false
    ) throws -> ContainerWriter {
        let level = options.level ?? options.codec.defaultLevel
        // A width of 1 leaves the bytes as they are: such files say filter 0, header and records (§4.2).
        let shuffle = (options.shuffle ?? true) && dtype.shuffleElementSize > 1
        var rowBytes = dtype.itemSize
        for dimension in rowShape {
            let (product, overflow) = rowBytes.multipliedReportingOverflow(by: max(dimension, 0))
            guard !overflow else {
                throw RowpackError(
                    .invalidArgument, path: path, "rows of dtype \(dtype) and shape \(rowShape) exceed 2^63 bytes")
            }
            rowBytes = product
        }
        guard rowBytes > 0 else {
            throw RowpackError(
                .invalidArgument, path: path,
                "rows of dtype \(dtype) and shape \(rowShape) hold 0 bytes; such rows are not supported")
        }
        let rowsPerChunk =
            options.rowsPerChunk
            ?? max(1, min(options.targetChunkBytes / rowBytes, FormatLimits.maxChunkBytes / rowBytes))
        var uuid = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in uuid.indices { uuid[i] = generator.next() }
        let header: FileHeader
        do {
            header = try FileHeader(
                uuid: uuid, dtype: dtype, rowShape: rowShape, rowsPerChunk: rowsPerChunk, codec: options.codec,
                level: level, filter: shuffle ? .shuffle : .none)
        } catch {
            throw RowpackError(.invalidArgument, path: path, error.detail)
        }
        let staging = try StagedFile.creating(
            at: path, overwrite: overwrite, sources: sources, inPlace: inPlace, durability: options.durability)
        let io = staging.io
        try io.lockUnnamed()  // held from before the file has a name: no other writer gets in
        let headerBytes = header.encoded()
        let root = IndexPage(kind: .root, first: 0, entries: []).encoded()
        let trailer = CommitTrailer(
            sequence: 1, rows: 0, chunks: 0, root: Extent(offset: headerBytes.count, length: root.count),
            rootChecksum: CRC32C.checksum(root.dropLast(4)), previousTrailer: 0,
            committedLength: headerBytes.count + root.count + CommitTrailer.size, deadBytes: 0, uuid: uuid,
            timeNanoseconds: Self.now())
        try io.write(headerBytes + root + trailer.encoded(), at: 0)
        let snapshot = try CommitSearch.newest(io, header: header, fileSize: try io.size()).snapshot
        let writer = ContainerWriter(io: io, header: header, snapshot: snapshot, options: options, leafEntries: [])
        writer.staging = staging
        return writer
    }

    /// Publishes a staged container at its path (see ``StagedFile/publish()``).
    private func publish() throws {
        guard let staging else { return }
        self.staging = nil
        do { try staging.publish() } catch {
            fail(error)
            throw error
        }
    }

    /// Opens an existing container to append more rows.
    ///
    /// Finds the newest valid commit; if the file continues past it (a crash mid-commit), the
    /// torn tail is cut off and synced before anything is appended. A damaged newest commit
    /// (``DamagedCommit``) is not a torn tail: opening refuses to cut it unless
    /// ``WriterOptions/discardDamagedCommit`` is set. A partial tail chunk is read
    /// back so new rows extend it.
    ///
    /// - Parameters:
    ///   - path: the container.
    ///   - options: only ``WriterOptions/durability``, ``WriterOptions/autoCommitChunks``,
    ///     ``WriterOptions/maxChunksInFlight`` and ``WriterOptions/discardDamagedCommit`` apply;
    ///     chunking and codec come from the header.
    /// - Throws: ``RowpackError`` `.locked` if another writer has it, `.corrupt` if no valid
    ///   commit exists or the newest one is damaged, `.io` for system failures.
    public static func open(at path: String, options: WriterOptions = WriterOptions()) throws -> ContainerWriter {
        let io = try FileIO.openForWriting(path)
        try io.lockForWriting()
        let size = try io.size()
        let (header, snapshot, _) = try cutTail(io, size: size, discardDamaged: options.discardDamagedCommit)
        var entries: [Extent] = []
        if !snapshot.leaves.isEmpty {
            entries = try ContainerLayout.readLeaf(
                io, header: header, snapshot: snapshot, index: snapshot.leaves.count - 1)
        }
        let writer = ContainerWriter(io: io, header: header, snapshot: snapshot, options: options, leafEntries: entries)
        let tailRows = snapshot.rows % header.rowsPerChunk
        if tailRows > 0 {
            let chunk = snapshot.chunks - 1
            let extent = entries[chunk - writer.tailStart]
            let loaded = try ContainerLayout.loadChunk(io, header: header, extent: extent, chunk: chunk, rows: tailRows)
            writer.reserveBuffer(tailRows * header.rowBytes)
            var failure: (any Error)?
            writer.buffer.withUnsafeMutableBytes { raw in
                do {
                    try loaded.decode(
                        into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<tailRows * header.rowBytes]))
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            writer.bufferedRows = tailRows
        }
        return writer
    }

    // MARK: Appending

    /// Appends whole rows given as raw bytes in the container's dtype and row layout (C order).
    ///
    /// - Parameter rows: `k × header.rowBytes` bytes for `k` rows.
    /// - Throws: ``RowpackError`` `.mismatch` if the byte count is not a whole number of rows;
    ///   I/O errors from writing finished chunks.
    /// - Complexity: O(bytes) copying; compression happens on background threads.
    public func append(rawRows rows: UnsafeRawBufferPointer) throws {
        try checkUsable()
        let rowBytes = header.rowBytes
        guard rows.count % rowBytes == 0 else {
            throw RowpackError(
                .mismatch, path: path, "\(rows.count) bytes are not a whole number of \(rowBytes)-byte rows")
        }
        guard let source = rows.baseAddress, !rows.isEmpty else { return }
        var copied = 0
        while copied < rows.count {
            let room = chunkBytes - bufferedRows * rowBytes
            let count = min(room, rows.count - copied)
            let at = bufferedRows * rowBytes
            if buffer.count < at + count { reserveBuffer(at + count) }
            buffer.withUnsafeMutableBytes {
                $0.baseAddress!.advanced(by: at).copyMemory(from: source + copied, byteCount: count)
            }
            copied += count
            bufferedRows += count / rowBytes
            rowCount += count / rowBytes
            bufferDirty = true
            if bufferedRows == header.rowsPerChunk { try finishChunk() }
        }
    }

    /// Appends whole rows given as raw bytes.
    public func append(rawRows rows: [UInt8]) throws {
        var failure: (any Error)?
        rows.withUnsafeBytes { raw in
            do { try append(rawRows: raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Appends one or more rows of typed values, in C order: `values.count` must be a multiple
    /// of the elements per row (`product(rowShape)`).
    ///
    /// - Throws: ``RowpackError`` `.mismatch` if `T`'s dtype is not the container's (no casts)
    ///   or the count is not a whole number of rows.
    public func append<T: RowElement>(_ values: [T]) throws {
        guard T.dtype == header.dtype else {
            throw RowpackError(
                .mismatch, path: path, "dtype mismatch: the container holds \(header.dtype), the rows are \(T.dtype)")
        }
        var failure: (any Error)?
        values.withUnsafeBytes { raw in
            do { try append(rawRows: raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    // MARK: Committing

    /// Makes every row appended so far part of a new commit, durable per the writer's
    /// ``Durability``. Does nothing if nothing changed since the last commit.
    ///
    /// Cost: the new chunks, the rewritten tail chunk (if it was partial), the index leaves that
    /// changed (at most one leaf rewritten, 64 KiB), a root of 16 bytes per 4096 chunks, the
    /// trailer, and up to two syncs. Independent of the rows already in the file.
    ///
    /// - Throws: ``RowpackError``. After a failure the file is cut back to the previous commit
    ///   and the writer refuses further work (`.writerFailed`); reopen to continue.
    public func commit() throws {
        try checkUsable()
        do {
            if bufferDirty && bufferedRows > 0 {
                let raw = Array(buffer[0..<bufferedRows * header.rowBytes])
                submit(raw, chunk: rowCount / header.rowsPerChunk, rows: bufferedRows)
                bufferDirty = false
            }
            while !inFlight.isEmpty { try writeOldest() }
            let chunks = (rowCount + header.rowsPerChunk - 1) / header.rowsPerChunk
            guard rowCount != committed.rows || firstDirtyChunk < chunks else { return }
            try writeCommit(chunks: chunks)
        } catch {
            fail(error)
            throw error
        }
    }

    /// Commits and releases the writer's lock; the writer accepts no more rows. A container
    /// made by ``create(at:importing:options:overwrite:progress:)`` appears at its path now,
    /// committed and synced.
    ///
    /// - Throws: ``RowpackError`` from committing or publishing; a container being imported
    ///   then never appears (its path keeps what it held).
    public func close() throws {
        try commit()
        try publish()
        isClosed = true
        io.unlock()
    }

    // MARK: Internals

    private func checkUsable() throws {
        if isClosed { throw RowpackError(.invalidArgument, path: path, "the writer is closed") }
        if let failure {
            throw RowpackError(
                .writerFailed, path: path,
                "an earlier write failed (\(failure.message)); the file ends at its last commit "
                    + "(\(committed.trailer.sequence)), reopen it to continue")
        }
    }

    /// Stops this writer for good after `error`, cutting the file back to the last commit: the
    /// bytes after it were never claimed by a trailer, so no reader used them (best effort:
    /// readers ignore such a tail anyway). A commit whose trailer was written is never cut,
    /// even when its sync failed (`Spec/FORMAT.md` §8.8): readers may already have read it.
    private func fail(_ error: any Error) {
        guard failure == nil else { return }
        failure = RowpackError.wrapping(error, path: path)
        while let job = inFlight.first {
            job.done.wait()
            inFlight.removeFirst()
        }
        try? io.truncate(to: committed.trailer.committedLength)
    }

    /// Grows the chunk buffer to hold at least `bytes` (doubling, up to one chunk).
    private func reserveBuffer(_ bytes: Int) {
        let target = min(chunkBytes, max(bytes, 2 * buffer.count, 4096))
        buffer.append(contentsOf: repeatElement(0, count: target - buffer.count))
    }

    private func finishChunk() throws {
        let raw = buffer
        buffer = [UInt8](repeating: 0, count: chunkBytes)
        let chunk = (rowCount - bufferedRows) / header.rowsPerChunk
        submit(raw, chunk: chunk, rows: bufferedRows)
        bufferedRows = 0
        bufferDirty = false
        chunksSinceCommit += 1
        do {
            while inFlight.count > maxChunksInFlight { try writeOldest() }
            if let autoCommitChunks, chunksSinceCommit >= autoCommitChunks {
                while !inFlight.isEmpty { try writeOldest() }
                try writeCommit(chunks: rowCount / header.rowsPerChunk)
            }
        } catch {
            fail(error)
            throw error
        }
    }

    private func submit(_ raw: [UInt8], chunk: Int, rows: Int) {
        let job = PendingChunk()
        let encoding = self.encoding
        DispatchQueue.global(qos: .userInitiated).async {
            let encoded = raw.withUnsafeBytes { encoding.encode($0, chunk: chunk, rows: rows) }
            job.result.withLock { $0 = encoded }
            job.done.signal()
        }
        inFlight.append(job)
    }

    /// Waits for the oldest chunk in flight and queues its record for writing.
    private func writeOldest() throws {
        let job = inFlight.removeFirst()
        job.done.wait()
        guard let encoded = job.result.withLock({ $0 }) else { return }
        let extent = Extent(offset: end, length: encoded.record.recordLength)
        pending.append(contentsOf: encoded.record.encoded())
        pending.append(contentsOf: encoded.payload)
        end += extent.length
        let chunk = encoded.record.chunk
        let slot = chunk - tailStart
        if slot < entries.count {
            supersededBytes += entries[slot].length
            entries[slot] = extent
        } else {
            entries.append(extent)
        }
        firstDirtyChunk = min(firstDirtyChunk, chunk)
        if pending.count >= 4 << 20 { try flushPending() }
    }

    private func flushPending() throws {
        guard !pending.isEmpty else { return }
        try io.write(pending, at: end - pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes index pages and the trailer for `chunks` chunks (all records already queued).
    private func writeCommit(chunks: Int) throws {
        let capacity = header.leafCapacity
        // The previous root and trailer are no longer reachable from the new commit.
        var deadBytes =
            committed.trailer.deadBytes + supersededBytes + committed.trailer.root.length + CommitTrailer.size
        let firstLeaf = min(firstDirtyChunk, chunks) / capacity
        let leafCount = (chunks + capacity - 1) / capacity
        guard leafCount <= Int(UInt32.max) else {
            throw RowpackError(
                .invalidArgument, path: path,
                "\(chunks) chunks need more index leaves than a root can list (\(UInt32.max))")
        }
        for leaf in firstLeaf..<leafCount {
            let first = leaf * capacity
            let slice = Array(entries[(first - tailStart)..<(min(first + capacity, chunks) - tailStart)])
            let page = IndexPage(kind: .leaf, first: first, entries: slice).encoded()
            let extent = Extent(offset: end, length: page.count)
            pending.append(contentsOf: page)
            end += page.count
            if leaf < leaves.count {
                deadBytes += leaves[leaf].length
                leaves[leaf] = extent
            } else {
                leaves.append(extent)
            }
        }
        let root = IndexPage(kind: .root, first: 0, entries: leaves).encoded()
        let rootExtent = Extent(offset: end, length: root.count)
        pending.append(contentsOf: root)
        end += root.count
        try flushPending()
        let sequence = committed.trailer.sequence + 1
        if durability == .durable { try io.sync("commit \(sequence) was not written") }
        let trailer = CommitTrailer(
            sequence: sequence, rows: rowCount,
            chunks: chunks, root: rootExtent, rootChecksum: CRC32C.checksum(root.dropLast(4)),
            previousTrailer: committed.trailer.offset, committedLength: end + CommitTrailer.size, deadBytes: deadBytes,
            uuid: header.uuid, timeNanoseconds: Self.now())
        try io.write(trailer.encoded(), at: end)
        end += CommitTrailer.size
        // The commit point: from here readers may use the new commit, so nothing cuts it.
        committed = Snapshot(trailer: trailer, leaves: leaves)
        if durability != .none {
            try io.sync("commit \(sequence) is in the file and readers may use it, but it may not be durable")
        }
        firstDirtyChunk = chunks
        supersededBytes = 0
        chunksSinceCommit = 0
        let newTailStart = max(0, leaves.count - 1) * capacity
        if newTailStart > tailStart {
            entries.removeFirst(newTailStart - tailStart)
            tailStart = newTailStart
        }
    }

    private static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}

/// A chunk being compressed on a background thread: the worker stores the result, then signals.
final class PendingChunk: Sendable {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<EncodedChunk?>(nil)
}
