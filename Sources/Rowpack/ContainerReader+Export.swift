import Dispatch
import RowpackFormat
import Synchronization

extension ContainerReader {
    /// Bytes decoded per block while exporting: memory use of an export is about twice this
    /// (one block being decoded, one being written), whatever the container's size.
    public static let exportBlockBytes = 16 << 20

    /// Writes rows `range` (all rows by default) to a `.npy` file with numpy's canonical header,
    /// which numpy memory-maps and npy-append-array (and ``NpyAppendFile``) can append to.
    ///
    /// A new file is built aside (unnamed, in the same directory), synced and linked or renamed
    /// into place, so `path` never holds a partial export; an existing file is replaced only
    /// with `overwrite`, if it is a regular file (not a symbolic link or device) that no writer
    /// holds and not this container. With `append`, the rows are added to an existing `.npy` of
    /// the same dtype and row shape through ``NpyAppendFile``, all or nothing (`rewriteHeader`
    /// as in ``NpyAppendFile/init(path:rewriteHeader:durability:)``). Decoding uses all cores
    /// and overlaps with writing.
    ///
    /// - Returns: the number of rows written.
    /// - Throws: ``RowpackError`` for rows out of range, a mismatched target, a destination
    ///   refused as above, corrupt chunks or I/O failures (the destination is then unchanged).
    @discardableResult
    public func export(
        to path: String, rows range: Range<Int>? = nil, append: Bool = false, rewriteHeader: Bool = false,
        overwrite: Bool = false, durability: Durability = .durable, progress: Progress = { _, _ in }
    ) throws -> Int {
        let range = range ?? 0..<rowCount
        try check(range, rows: rowCount)
        if append {
            let target = try NpyAppendFile(path: path, rewriteHeader: rewriteHeader, durability: durability)
            guard target.header.dtype == header.dtype, target.header.rowShape == header.rowShape else {
                throw RowpackError(
                    .mismatch, path: path,
                    "cannot append: the file holds \(target.header.dtype) rows of shape \(target.header.rowShape), the container \(header.dtype) rows of shape \(header.rowShape)"
                )
            }
            try target.append { write in try streamBlocks(range, progress: progress, write: write) }
            return range.count
        }
        let staged = try newFile(at: path, overwrite: overwrite, durability: durability)
        try NpyFile.create(in: staged, dtype: header.dtype, shape: [range.count] + header.rowShape) { write in
            try streamBlocks(range, progress: progress, write: write)
        }
        return range.count
    }

    /// Writes the rows listed in `indices` (any order, repeats allowed), in that order, to a new
    /// `.npy` file, as ``export(to:rows:append:rewriteHeader:overwrite:durability:progress:)``
    /// does for a range.
    public func export(
        to path: String, gathering indices: [Int], overwrite: Bool = false, durability: Durability = .durable
    ) throws {
        var next = 0
        try export(
            to: path,
            gatheringBlocks: { limit in
                let end = indices.count - next <= limit ? indices.count : next + limit
                defer { next = end }
                return Array(indices[next..<end])
            }, overwrite: overwrite, durability: durability)
    }

    /// Writes rows to a new `.npy` file in the order `nextBlock` lists them (any order, repeats
    /// allowed), asking it for at most `limit` row numbers at a time until it returns none: a
    /// list of any length is streamed, its count known only at its end. Memory stays bounded by
    /// one block of rows (at most ``exportBlockBytes``, or one row). The destination is checked
    /// and replaced as ``export(to:rows:append:rewriteHeader:overwrite:durability:progress:)`` does.
    ///
    /// - Throws: ``RowpackError`` for rows out of range, a refused destination, corrupt chunks,
    ///   I/O failures, or whatever `nextBlock` throws; the destination is then unchanged.
    public func export(
        to path: String, gatheringBlocks nextBlock: (_ limit: Int) throws -> [Int], overwrite: Bool = false,
        durability: Durability = .durable
    ) throws {
        let rowsPerBlock = max(1, min(Self.gatherBlockRows, Self.exportBlockBytes / header.rowBytes))
        let staged = try newFile(at: path, overwrite: overwrite, durability: durability)
        try NpyFile.create(in: staged, dtype: header.dtype, shape: [0] + header.rowShape, rowsFromData: true) { write in
            while case let block = try nextBlock(rowsPerBlock), !block.isEmpty {
                try gather(rows: block).withUnsafeBytes { try write($0) }
            }
        }
    }

    /// Row numbers gathered per block: their list and sort order cost 16 bytes a row.
    static let gatherBlockRows = 1 << 16

    /// A new file for an export to `path`, which must not be this container.
    func newFile(at path: String, overwrite: Bool, durability: Durability) throws -> StagedFile {
        try StagedFile.creating(at: path, overwrite: overwrite, sources: [io], durability: durability)
    }

    /// Decodes `range` in blocks of whole chunks and hands each block to `write`, decoding the
    /// next block on other threads while the current one is written. Blocks are made as they
    /// are needed: a range of any length costs two blocks of memory.
    func streamBlocks(_ range: Range<Int>, progress: Progress, write: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !range.isEmpty else { return }
        let rowBytes = header.rowBytes
        let perChunk = header.rowsPerChunk
        // Whole chunks per block, so each chunk is decoded once; cannot overflow: a chunk holds
        // at most FormatLimits.maxChunkBytes.
        let blockRows = max(1, Self.exportBlockBytes / (perChunk * rowBytes)) * perChunk
        /// The block that starts at `start`: up to the block boundary after it (blocks end on
        /// chunk boundaries), written as subtractions so rows near `Int.max` cannot overflow.
        func block(from start: Int) -> Range<Int> {
            let chunkStart = start - start % perChunk
            return start..<(range.upperBound - chunkStart <= blockRows ? range.upperBound : chunkStart + blockRows)
        }
        // Check the first chunk's record before reserving buffers sized by the chunk size, so a
        // damaged file claiming huge chunks fails before it can claim memory.
        try checkRecord(holding: range.lowerBound, in: current)
        let blockBytes = min(range.count, blockRows) * rowBytes  // no more than the rows exported
        let buffers = [
            UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 64),
            UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 64),
        ]
        defer { buffers.forEach { $0.deallocate() } }
        func decode(_ block: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) -> DecodeJob {
            let target = DisjointWrites(
                buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<block.count * rowBytes]))
            let job = DecodeJob()
            DispatchQueue.global(qos: .userInitiated).async { [self] in
                do { try read(rows: block, into: target.buffer) } catch { job.failure.withLock { $0 = error } }
                job.done.signal()
            }
            return job
        }
        // The job not yet waited for; waited for on every exit, before the buffers go.
        var current = block(from: range.lowerBound)
        var pending: DecodeJob? = decode(current, into: buffers[0])
        defer { pending?.done.wait() }
        var index = 0
        while let job = pending {
            job.done.wait()
            pending = nil
            if let failure = job.failure.withLock({ $0 }) { throw failure }
            let next = current.upperBound < range.upperBound ? block(from: current.upperBound) : nil
            if let next { pending = decode(next, into: buffers[(index + 1) % 2]) }
            try write(UnsafeRawBufferPointer(rebasing: buffers[index % 2][0..<current.count * rowBytes]))
            progress(current.upperBound - range.lowerBound, range.count)
            if let next { current = next }
            index += 1
        }
    }
}

/// One block decoding on a background thread.
final class DecodeJob: Sendable {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)
}
