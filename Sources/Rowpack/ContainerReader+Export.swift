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
        guard range.lowerBound >= 0, range.upperBound <= rowCount else {
            throw RowpackError(.invalidArgument, path: self.path, "rows \(range.lowerBound)..<\(range.upperBound) are out of range (the container has \(rowCount) rows)")
        }
        if append {
            let target = try NpyAppendFile(path: path, rewriteHeader: rewriteHeader, durability: durability)
            guard target.header.dtype == header.dtype, target.header.rowShape == header.rowShape else {
                throw RowpackError(
                    .mismatch, path: path,
                    "cannot append: the file holds \(target.header.dtype) rows of shape \(target.header.rowShape), the container \(header.dtype) rows of shape \(header.rowShape)")
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
    public func export(to path: String, gathering indices: [Int], overwrite: Bool = false, durability: Durability = .durable) throws {
        let rowsPerBlock = max(1, Self.exportBlockBytes / header.rowBytes)
        let staged = try newFile(at: path, overwrite: overwrite, durability: durability)
        try NpyFile.create(in: staged, dtype: header.dtype, shape: [indices.count] + header.rowShape) { write in
            var start = 0
            while start < indices.count {
                let end = min(indices.count, start + rowsPerBlock)
                try gather(rows: Array(indices[start..<end])).withUnsafeBytes { try write($0) }
                start = end
            }
        }
    }

    /// A new file for an export to `path`, which must not be this container.
    func newFile(at path: String, overwrite: Bool, durability: Durability) throws -> StagedFile {
        try StagedFile.creating(at: path, overwrite: overwrite, sources: [io], durability: durability)
    }

    /// Decodes `range` in blocks of whole chunks and hands each block to `write`, decoding the
    /// next block on other threads while the current one is written.
    private func streamBlocks(_ range: Range<Int>, progress: Progress, write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let rowBytes = header.rowBytes
        let perChunk = header.rowsPerChunk
        let chunksPerBlock = max(1, Self.exportBlockBytes / max(1, perChunk * rowBytes))
        var blocks: [Range<Int>] = []
        var start = range.lowerBound
        while start < range.upperBound {
            // Align block ends to chunk boundaries so each chunk is decoded once.
            let end = min(range.upperBound, (start / perChunk + chunksPerBlock) * perChunk)
            blocks.append(start..<end)
            start = end
        }
        guard !blocks.isEmpty else { return }
        // Check the first chunk's record before reserving buffers sized by the chunk size, so a
        // damaged file claiming huge chunks fails before it can claim memory.
        let snapshot = current
        let firstChunk = range.lowerBound / perChunk
        _ = try ContainerLayout.loadChunk(
            io, header: header, extent: try extent(of: firstChunk, in: snapshot), chunk: firstChunk,
            rows: min(perChunk, snapshot.rows - firstChunk * perChunk))
        let blockBytes = (blocks.map(\.count).max() ?? 0) * rowBytes  // no more than the rows exported
        let buffers = [
            UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 64),
            UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 64),
        ]
        defer { buffers.forEach { $0.deallocate() } }
        func decode(_ index: Int) -> DecodeJob {
            let block = blocks[index]
            let target = DisjointWrites(buffer: UnsafeMutableRawBufferPointer(rebasing: buffers[index % 2][0..<block.count * rowBytes]))
            let job = DecodeJob()
            DispatchQueue.global(qos: .userInitiated).async { [self] in
                do { try read(rows: block, into: target.buffer) } catch { job.failure.withLock { $0 = error } }
                job.done.signal()
            }
            return job
        }
        // The job not yet waited for; waited for on every exit, before the buffers go.
        var pending: DecodeJob? = decode(0)
        defer { pending?.done.wait() }
        for index in blocks.indices {
            guard let current = pending else { break }
            current.done.wait()
            pending = nil
            if let failure = current.failure.withLock({ $0 }) { throw failure }
            if index + 1 < blocks.count { pending = decode(index + 1) }
            try write(UnsafeRawBufferPointer(rebasing: buffers[index % 2][0..<blocks[index].count * rowBytes]))
            progress(blocks[index].upperBound - range.lowerBound, range.count)
        }
    }
}

/// One block decoding on a background thread.
final class DecodeJob: Sendable {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)
}
