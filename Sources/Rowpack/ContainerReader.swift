import Dispatch
public import RowpackFormat
import Synchronization

/// Reads rows of a container: ranges, single rows, gathers, into typed arrays or a caller's
/// buffer.
///
/// Opening reads the header, the newest valid commit's trailer and its index root (three small
/// reads when the file ends in a valid commit; see ``CommitSearch`` otherwise); index leaves
/// are read on first use. When the newest commit in the file is damaged, the reader opens the
/// newest intact one and says so (``damagedCommit``). A reader holds one commit (a snapshot): rows
/// appended later are invisible until ``refresh()``. It takes no lock on the file and never
/// blocks a writer.
///
/// Thread-safe: share one reader between threads. Decoded chunks live in a ``RowCache``.
public final class ContainerReader: Sendable {
    /// The container's path.
    public let path: String
    /// The fixed header: dtype, row shape, chunking.
    public let header: FileHeader
    /// The decoded-chunk cache.
    public let cache: RowCache

    let io: FileIO
    /// The commit held, and what the search that found it leaves for the next refresh.
    private let state: Mutex<(snapshot: Snapshot, search: CommitSearch)>
    /// Decoded index leaves (immutable bytes, so valid across refreshes), keyed by everything
    /// reading one checks: a later commit listing the same page as another leaf, or for
    /// another chunk count, reads and checks it afresh.
    private let leafCache = Mutex<[LeafKey: [Extent]]>([:])
    /// Where the previous cached read ended, to spot sequential scans, and the chunk last read
    /// ahead, so each chunk is prefetched once.
    private let scan = Mutex<(end: Int, prefetched: Int)>((-1, -1))

    /// Opens a container for reading.
    ///
    /// - Parameters:
    ///   - path: the container file.
    ///   - cacheBytes: capacity of the decoded-chunk cache (default 64 MiB).
    /// - Throws: ``RowpackError`` `.corrupt` if the file is not a container or has no valid
    ///   commit, `.unsupported` for a newer major version, `.io` if it cannot be read.
    public convenience init(path: String, cacheBytes: Int = RowCache.defaultCapacity) throws {
        try self.init(path: path, cache: RowCache(capacity: cacheBytes))
    }

    /// Opens a container for reading with decoded chunks kept in `cache`.
    init(path: String, cache: RowCache) throws {
        let io = try FileIO.openForReading(path)
        let size = try io.size()
        let header = try ContainerLayout.readHeader(io, fileSize: size)
        self.io = io
        self.path = path
        self.header = header
        self.cache = cache
        state = Mutex(try CommitSearch.newest(io, header: header, fileSize: size))
    }

    /// Rows in the commit this reader holds.
    public var rowCount: Int { current.rows }
    /// Chunks in the commit this reader holds.
    public var chunkCount: Int { current.chunks }
    /// The commit this reader holds.
    public var commit: CommitTrailer { current.trailer }

    /// A complete trailer newer than the commit this reader holds that fails its checks: the
    /// newest commit in the file is damaged, and this reader holds the newest intact one. Nil
    /// when the file holds nothing newer than this reader's commit but (at most) a torn tail.
    public var damagedCommit: DamagedCommit? { state.withLock { $0.search.damage } }

    /// The commit this reader holds.
    var current: Snapshot { state.withLock { $0.snapshot } }

    /// Moves this reader to the newest commit in the file.
    ///
    /// Cost: when the file has not grown, a `stat` and an `fstat`; otherwise a search of the
    /// bytes added since the last refresh only. A file cut back to below what was searched (a
    /// writer removed a torn tail) is searched again from this reader's commit.
    ///
    /// - Returns: whether a newer commit was found.
    /// - Throws: ``RowpackError`` `.replaced` if the path now names another file (this reader
    ///   keeps the old one open), `.corrupt` if the file shrank below this reader's commit,
    ///   `.io` if it can no longer be read.
    @discardableResult
    public func refresh() throws -> Bool {
        guard try io.isStillAtPath() else {
            throw RowpackError(
                .replaced, path: path,
                "the file was replaced or removed since this reader opened it; reopen it to read what the path names now"
            )
        }
        let size = try io.size()
        let (held, search) = state.withLock { $0 }
        let found = try search.refreshed(io, header: header, current: held, fileSize: size)
        let latest = found.snapshot ?? held
        let changed = state.withLock { state in
            guard latest.trailer.sequence > state.snapshot.trailer.sequence else {
                state.search = found
                return false
            }
            state = (latest, found)
            return true
        }
        if changed {
            let live = Set(latest.leaves.indices.map { leafKey($0, in: latest) })
            leafCache.withLock { cache in cache = cache.filter { live.contains($0.key) } }
        }
        return changed
    }

    // MARK: Reading

    /// Copies rows `range` into `output` (C order, `range.count × header.rowBytes` bytes).
    ///
    /// Ranges spanning several chunks decode them on all cores; whole chunks of a large range
    /// are decoded straight into `output` without passing through the cache.
    ///
    /// - Throws: ``RowpackError`` `.invalidArgument` for rows outside `0..<rowCount` or a buffer
    ///   of the wrong size; `.corrupt` naming the chunk when a chunk fails its checks.
    public func read(rows range: Range<Int>, into output: UnsafeMutableRawBufferPointer) throws {
        let snapshot = current
        try check(range, rows: snapshot.rows)
        let rowBytes = header.rowBytes
        guard output.count == range.count * rowBytes else {
            throw RowpackError(
                .invalidArgument, path: path,
                "buffer of \(output.count) bytes does not hold \(range.count) rows of \(rowBytes) bytes")
        }
        guard !range.isEmpty else { return }
        let firstChunk = range.lowerBound / header.rowsPerChunk
        let lastChunk = (range.upperBound - 1) / header.rowsPerChunk
        let target = DisjointWrites(buffer: output)
        if lastChunk - firstChunk >= 2 {
            let failures = Mutex<(any Error)?>(nil)
            DispatchQueue.concurrentPerform(iterations: lastChunk - firstChunk + 1) { i in
                do { try copy(chunk: firstChunk + i, of: range, in: snapshot, to: target, direct: true) } catch {
                    failures.withLock { $0 = $0 ?? error }
                }
            }
            if let failure = failures.withLock({ $0 }) { throw failure }
        } else {
            for chunk in firstChunk...lastChunk {
                try copy(chunk: chunk, of: range, in: snapshot, to: target, direct: false)
            }
            readAhead(after: range, in: snapshot)
        }
    }

    /// Calls `body` with row `index`'s bytes inside the cached chunk, without copying them.
    ///
    /// The fast path for single rows: on a cache hit it allocates nothing. The buffer is valid
    /// only during `body`.
    public func withRow<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let snapshot = current
        try check(row: index, rows: snapshot.rows)
        let chunk = index / header.rowsPerChunk
        let bytes = try decodedChunk(chunk, in: snapshot)
        let at = (index - chunk * header.rowsPerChunk) * header.rowBytes
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[at..<at + header.rowBytes])) }
    }

    /// When a read starts where the previous one ended (a sequential scan), decodes the chunk
    /// after it in the background so the next read finds it cached.
    private func readAhead(after range: Range<Int>, in snapshot: Snapshot) {
        let next = (range.upperBound - 1) / header.rowsPerChunk + 1
        let prefetch = scan.withLock { scan in
            defer { scan.end = range.upperBound }
            guard scan.end == range.lowerBound, scan.prefetched != next else { return false }
            scan.prefetched = next
            return true
        }
        guard prefetch, next < snapshot.chunks, cache.capacity > 0 else { return }
        DispatchQueue.global(qos: .utility).async { [self] in
            // A failure here is reported by the read that needs the chunk.
            _ = try? decodedChunk(next, in: snapshot)
        }
    }

    /// Copies the rows of `range` that live in `chunk` to their place in `output`. With
    /// `direct`, a chunk wholly inside the range is decoded straight into `output`, bypassing
    /// the cache (large reads would only flush it).
    private func copy(chunk: Int, of range: Range<Int>, in snapshot: Snapshot, to output: DisjointWrites, direct: Bool)
        throws
    {
        let perChunk = header.rowsPerChunk
        let rowBytes = header.rowBytes
        let chunkStart = chunk * perChunk
        let chunkRows = min(perChunk, snapshot.rows - chunkStart)
        let lower = max(range.lowerBound, chunkStart)
        let upper = min(range.upperBound, chunkStart + chunkRows)
        let target = UnsafeMutableRawBufferPointer(
            rebasing: output.buffer[(lower - range.lowerBound) * rowBytes..<(upper - range.lowerBound) * rowBytes])
        if direct && lower == chunkStart && upper == chunkStart + chunkRows {
            try ContainerLayout.decodeChunk(
                io, header: header, extent: try extent(of: chunk, in: snapshot), chunk: chunk, rows: chunkRows,
                into: target)
        } else {
            let bytes = try decodedChunk(chunk, in: snapshot)
            bytes.withUnsafeBytes { source in
                target.copyMemory(
                    from: UnsafeRawBufferPointer(
                        rebasing: source[(lower - chunkStart) * rowBytes..<(upper - chunkStart) * rowBytes]))
            }
        }
    }

    /// Rows `range` as raw bytes.
    public func read(rows range: Range<Int>) throws -> [UInt8] {
        try check(range, rows: current.rows)
        let count = try outputBytes(rows: range.count, rowBytes: header.rowBytes, firstRow: range.lowerBound)
        return try filled(count: count) { (buffer) throws in try read(rows: range, into: buffer) }
    }

    /// Rows `range` as typed values in C order (`range.count × product(rowShape)` values).
    ///
    /// - Throws: ``RowpackError`` `.mismatch` if `T`'s dtype is not the container's (no casts).
    public func read<T: RowElement>(rows range: Range<Int>, as type: T.Type) throws -> [T] {
        try checkType(T.self)
        try check(range, rows: current.rows)
        let bytes = try outputBytes(rows: range.count, rowBytes: header.rowBytes, firstRow: range.lowerBound)
        let count = bytes / MemoryLayout<T>.stride
        var failure: (any Error)?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            do {
                adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
                try read(rows: range, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return values
    }

    /// Row `index` as typed values.
    public func row<T: RowElement>(_ index: Int, as type: T.Type) throws -> [T] {
        try check(row: index, rows: current.rows)
        return try read(rows: index..<(index + 1), as: type)
    }

    /// Copies the rows listed in `indices` (any order, repeats allowed) into `output`, in the
    /// order given. Each chunk involved is decoded once.
    public func gather(rows indices: [Int], into output: UnsafeMutableRawBufferPointer) throws {
        let snapshot = current
        let rowBytes = header.rowBytes
        guard output.count == indices.count * rowBytes else {
            throw RowpackError(
                .invalidArgument, path: path,
                "buffer of \(output.count) bytes does not hold \(indices.count) rows of \(rowBytes) bytes")
        }
        for index in indices { try check(row: index, rows: snapshot.rows) }
        let order = indices.indices.sorted { indices[$0] < indices[$1] }
        var position = 0
        while position < order.count {
            let chunk = indices[order[position]] / header.rowsPerChunk
            let bytes = try decodedChunk(chunk, in: snapshot)
            let chunkStart = chunk * header.rowsPerChunk
            bytes.withUnsafeBytes { source in
                while position < order.count, indices[order[position]] / header.rowsPerChunk == chunk {
                    let slot = order[position]
                    let at = (indices[slot] - chunkStart) * rowBytes
                    UnsafeMutableRawBufferPointer(rebasing: output[slot * rowBytes..<(slot + 1) * rowBytes])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[at..<at + rowBytes]))
                    position += 1
                }
            }
        }
    }

    /// The rows listed in `indices`, in the order given, as raw bytes.
    public func gather(rows indices: [Int]) throws -> [UInt8] {
        let count = try outputBytes(rows: indices.count, rowBytes: header.rowBytes, firstRow: indices.first ?? 0)
        return try filled(count: count) { (buffer) throws in try gather(rows: indices, into: buffer) }
    }

    // MARK: Verification

    /// Reads and checks every index page and every chunk of the current commit.
    ///
    /// - Returns: one error per damaged structure (empty when the container is sound).
    /// - Complexity: reads and decodes the whole committed data, one chunk at a time.
    public func verify(progress: (Int, Int) -> Void = { _, _ in }) -> [RowpackError] {
        let snapshot = current
        var problems: [RowpackError] = []
        // Grown to the largest chunk actually decoded, never touched before it is written.
        var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        defer { buffer.deallocate() }
        var previous: (index: Int, entries: [Extent])?
        for leaf in snapshot.leaves.indices {
            let entries: [Extent]
            do { entries = try ContainerLayout.readLeaf(io, header: header, snapshot: snapshot, index: leaf) } catch {
                problems.append(RowpackError.wrapping(error, path: path))
                continue
            }
            if let previous {
                do {
                    try ContainerLayout.checkLeavesInOrder(
                        previous, (leaf, entries), path: path, chunk: leaf * header.leafCapacity)
                } catch {
                    problems.append(RowpackError.wrapping(error, path: path))
                }
            }
            previous = (leaf, entries)
            for (slot, extent) in entries.enumerated() {
                let chunk = leaf * header.leafCapacity + slot
                let rows = min(header.rowsPerChunk, snapshot.rows - chunk * header.rowsPerChunk)
                do {
                    let loaded = try ContainerLayout.loadChunk(
                        io, header: header, extent: extent, chunk: chunk, rows: rows)
                    if buffer.count < loaded.record.rawLength {
                        buffer.deallocate()
                        buffer = .allocate(byteCount: loaded.record.rawLength, alignment: 64)
                    }
                    try loaded.decode(
                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<loaded.record.rawLength]))
                } catch { problems.append(RowpackError.wrapping(error, path: path)) }
                progress(chunk + 1, snapshot.chunks)
            }
        }
        return problems
    }

    // MARK: Internals

    /// Chunk `chunk` decoded, through the cache.
    func decodedChunk(_ chunk: Int, in snapshot: Snapshot) throws -> [UInt8] {
        let extent = try extent(of: chunk, in: snapshot)
        let rows = min(header.rowsPerChunk, snapshot.rows - chunk * header.rowsPerChunk)
        return try cache.value(for: RowCache.Key(record: extent, chunk: chunk, rows: rows)) { () throws -> [UInt8] in
            // Checked before the output is allocated: a record cannot claim memory it does not hold.
            let loaded = try ContainerLayout.loadChunk(io, header: header, extent: extent, chunk: chunk, rows: rows)
            return try filled(count: rows * header.rowBytes) { try loaded.decode(into: $0) }
        }
    }

    /// Where chunk `chunk`'s record is, reading its index leaf on first use.
    ///
    /// A leaf read from the file is checked against its neighbours when they are cached
    /// (``ContainerLayout/checkLeavesInOrder(_:_:path:chunk:)``), under the cache's lock, so of
    /// any two neighbouring leaves held at once one was checked against the other.
    func extent(of chunk: Int, in snapshot: Snapshot) throws -> Extent {
        let leaf = chunk / header.leafCapacity
        let key = leafKey(leaf, in: snapshot)
        let slot = chunk - leaf * header.leafCapacity
        if let entries = leafCache.withLock({ $0[key] }) { return entries[slot] }
        let entries: [Extent]
        do { entries = try ContainerLayout.readLeaf(io, header: header, snapshot: snapshot, index: leaf) } catch var
            error as RowpackError
        {
            error.chunk = error.chunk ?? chunk
            throw error
        }
        try leafCache.withLock { cache in
            if leaf > 0, let before = cache[leafKey(leaf - 1, in: snapshot)] {
                try ContainerLayout.checkLeavesInOrder((leaf - 1, before), (leaf, entries), path: path, chunk: chunk)
            }
            if leaf + 1 < snapshot.leaves.count, let after = cache[leafKey(leaf + 1, in: snapshot)] {
                try ContainerLayout.checkLeavesInOrder((leaf, entries), (leaf + 1, after), path: path, chunk: chunk)
            }
            cache[key] = entries
        }
        return entries[slot]
    }

    /// A decoded index leaf's cache key: a page is reused only as the same leaf of the same size.
    private struct LeafKey: Hashable {
        let extent: Extent
        let index: Int
        let chunks: Int
    }

    /// What leaf `index` of `snapshot` is cached under: its extent, its index and the chunks
    /// it must list.
    private func leafKey(_ index: Int, in snapshot: Snapshot) -> LeafKey {
        let first = index * header.leafCapacity
        return LeafKey(
            extent: snapshot.leaves[index], index: index, chunks: min(header.leafCapacity, snapshot.chunks - first))
    }

    /// Throws unless `range` lies in `0..<rows`. Every public entry point taking rows checks
    /// them before computing anything from them (`range.count` of `Int.min..<Int.max` traps).
    func check(_ range: Range<Int>, rows: Int) throws {
        guard range.lowerBound >= 0, range.upperBound <= rows else {
            throw RowpackError(
                .invalidArgument, path: path,
                "rows \(range.lowerBound)..<\(range.upperBound) are out of range (the container has \(rows) rows)")
        }
    }

    /// Throws unless row `index` lies in `0..<rows`.
    func check(row index: Int, rows: Int) throws {
        guard index >= 0, index < rows else {
            throw RowpackError(
                .invalidArgument, path: path, "row \(index) is out of range (the container has \(rows) rows)")
        }
    }

    func checkType<T: RowElement>(_: T.Type) throws {
        guard T.dtype == header.dtype else {
            throw RowpackError(
                .mismatch, path: path, "dtype mismatch: the container holds \(header.dtype), requested \(T.dtype)")
        }
    }

    /// Outputs from this size on are allocated only after ``checkRecord(holding:in:)``.
    static let checkedOutputBytes = 64 << 20

    /// Bytes of an output holding `rows` rows of `rowBytes`, checked before it is allocated: the
    /// product must not overflow, and an output of ``checkedOutputBytes`` or more waits until
    /// the record of the chunk holding `firstRow` passed its checks (one more record read), so
    /// a damaged file claiming huge rows fails instead of claiming memory.
    func outputBytes(rows: Int, rowBytes: Int, firstRow: Int) throws -> Int {
        let (bytes, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow, rows >= 0 else {
            throw RowpackError(.invalidArgument, path: path, "\(rows) rows are too many to hold in memory")
        }
        let snapshot = current
        if bytes >= Self.checkedOutputBytes, firstRow >= 0, firstRow < snapshot.rows {
            try checkRecord(holding: firstRow, in: snapshot)
        }
        return bytes
    }

    /// Reads the record of the chunk holding `row` and checks it (index entry, checksums, the
    /// most its payload can expand to) without decoding it.
    func checkRecord(holding row: Int, in snapshot: Snapshot) throws {
        let chunk = row / header.rowsPerChunk
        _ = try ContainerLayout.loadChunk(
            io, header: header, extent: try extent(of: chunk, in: snapshot), chunk: chunk,
            rows: min(header.rowsPerChunk, snapshot.rows - chunk * header.rowsPerChunk))
    }
}

/// A caller's output buffer shared by decode threads. `@unchecked Sendable` because each thread
/// writes a disjoint range of it and the caller waits for all of them before using it.
struct DisjointWrites: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
}

/// A byte array of `count` bytes filled by `body`.
func filled(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> [UInt8] {
    var failure: (any Error)?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        do {
            adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            try body(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        } catch {
            failure = error  // nothing counts as initialized: the bytes are never touched again
        }
    }
    if let failure { throw failure }
    return bytes
}
