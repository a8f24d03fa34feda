import RowpackFormat

/// Reading the structures of `Spec/FORMAT.md` from a file: the header, a commit's root (the
/// search for the newest commit is ``CommitSearch``), index leaves and chunk records.
enum ContainerLayout {
    /// Reads and checks the file header.
    static func readHeader(_ io: FileIO, fileSize: Int) throws -> FileHeader {
        guard fileSize >= FileHeader.prefixBytes else {
            throw RowpackError(
                .corrupt, path: io.path,
                fileSize == 0
                    ? "file is empty, not a rowpack container"
                    : "file is too short (\(fileSize) bytes) to be a rowpack container")
        }
        let prefix = try io.read(count: FileHeader.prefixBytes, at: 0, what: "the file header")
        let length: Int
        do { length = try FileHeader.length(prefix: prefix) } catch { throw RowpackError(error, path: io.path) }
        guard length <= fileSize else {
            throw RowpackError(
                .corrupt, path: io.path, "file header claims \(length) bytes, file has \(fileSize)", offset: 12)
        }
        let bytes = try io.read(count: length, at: 0, what: "the file header")
        do { return try FileHeader(decoding: bytes) } catch { throw RowpackError(error, path: io.path) }
    }

    /// Reads and checks the index root of `trailer`, a trailer that passed its own checks, and
    /// returns its commit (§6.2 checks 11 and 12).
    static func readCommit(_ io: FileIO, header: FileHeader, trailer: CommitTrailer) throws -> Snapshot {
        let expectedLeaves = trailer.chunks / header.leafCapacity + (trailer.chunks % header.leafCapacity > 0 ? 1 : 0)
        guard trailer.root.length == IndexPage.length(entries: expectedLeaves) else {
            throw RowpackError(
                .corrupt, path: io.path,
                "index root of \(trailer.root.length) bytes cannot list the \(expectedLeaves) leaves of \(trailer.chunks) chunks",
                offset: trailer.root.offset)
        }
        let rootBytes = try io.read(count: trailer.root.length, at: trailer.root.offset, what: "the index root")
        let root: IndexPage
        do {
            root = try IndexPage(decoding: rootBytes, kind: .root, floor: header.byteCount, limit: trailer.root.offset)
        } catch {
            throw RowpackError(error, path: io.path, base: trailer.root.offset)
        }
        guard CRC32C.checksum(rootBytes.dropLast(4)) == trailer.rootChecksum else {
            throw RowpackError(
                .corrupt, path: io.path, "index root checksum does not match its commit", offset: trailer.root.offset)
        }
        return Snapshot(trailer: trailer, leaves: root.entries)
    }

    /// Reads index leaf `index` of `snapshot` and checks it covers the chunks it should.
    static func readLeaf(_ io: FileIO, header: FileHeader, snapshot: Snapshot, index: Int) throws -> [Extent] {
        let extent = snapshot.leaves[index]
        let first = index * header.leafCapacity
        let expected = min(header.leafCapacity, snapshot.chunks - first)
        guard extent.length == IndexPage.length(entries: expected) else {
            throw RowpackError(
                .corrupt, path: io.path, "index leaf \(index) of \(extent.length) bytes cannot list \(expected) chunks",
                offset: extent.offset)
        }
        let bytes = try io.read(count: extent.length, at: extent.offset, what: "index leaf \(index)")
        let page: IndexPage
        do { page = try IndexPage(decoding: bytes, kind: .leaf, floor: header.byteCount, limit: extent.offset) } catch {
            throw RowpackError(error, path: io.path, base: extent.offset)
        }
        guard page.first == first, page.entries.count == expected else {
            throw RowpackError(
                .corrupt, path: io.path,
                "index leaf \(index) covers chunks \(page.first)+\(page.entries.count), expected \(first)+\(expected)",
                offset: extent.offset)
        }
        return page.entries
    }

    /// Checks that the records of leaf `next.index` all lie after those of leaf `earlier.index`
    /// (`Spec/FORMAT.md` §5.3: records are in chunk order across leaves too, so one record
    /// listed by two leaves, or overlapping records, are corruption). Leaves are checked in
    /// pairs when both are at hand; within a leaf, ``IndexPage`` checks the order.
    ///
    /// - Throws: ``RowpackError`` `.corrupt` naming `chunk` and the offending entry.
    static func checkLeavesInOrder(
        _ earlier: (index: Int, entries: [Extent]), _ next: (index: Int, entries: [Extent]), path: String, chunk: Int
    ) throws {
        guard let last = earlier.entries.last, let first = next.entries.first, first.offset < last.end else { return }
        throw RowpackError(
            .corrupt, path: path,
            "index leaf \(next.index) lists a record at \(first.offset), inside or before the last record of leaf \(earlier.index) (\(last.offset)+\(last.length))",
            offset: first.offset, chunk: chunk)
    }
}

extension ContainerLayout {
    /// A chunk record read from the file and checked against the index, the header and its
    /// own checksums and framing; nothing has been allocated for its decoded rows yet.
    struct LoadedChunk {
        let record: ChunkRecord
        let bytes: [UInt8]
        let extent: Extent
        let path: String

        /// Decodes the chunk into `output` (exactly `record.rawLength` bytes).
        func decode(into output: UnsafeMutableRawBufferPointer) throws {
            var failure: FormatError?
            bytes.withUnsafeBytes { raw in
                do throws(FormatError) {
                    try record.decode(
                        checkedPayload: UnsafeRawBufferPointer(rebasing: raw[ChunkRecord.size...]), into: output)
                } catch { failure = error }
            }
            if let failure {
                throw ContainerLayout.chunkError(failure, path: path, extent: extent, chunk: record.chunk)
            }
        }
    }

    /// Reads chunk `chunk`'s record at `extent` and checks it against what the index and header
    /// promise (chunk number, `rows`, `rows × rowBytes` raw bytes, record length), its payload
    /// checksum and codec framing (§7.3).
    ///
    /// - Throws: ``RowpackError`` naming the chunk and its byte offset.
    static func loadChunk(_ io: FileIO, header: FileHeader, extent: Extent, chunk: Int, rows: Int) throws -> LoadedChunk
    {
        let rawLength = rows * header.rowBytes
        guard extent.length >= ChunkRecord.size,
            extent.length - ChunkRecord.size <= ChunkRecord.maxStoredLength(rawLength: rawLength)
        else {
            throw RowpackError(
                .corrupt, path: io.path,
                "index entry of \(extent.length) bytes does not fit a chunk of \(rawLength) raw bytes",
                offset: extent.offset, chunk: chunk)
        }
        let bytes = try io.read(count: extent.length, at: extent.offset, what: "chunk \(chunk)")
        let record: ChunkRecord
        do { record = try ChunkRecord(decoding: bytes) } catch {
            throw RowpackError(error, path: io.path, base: extent.offset, chunk: chunk)
        }
        guard record.chunk == chunk, record.rows == rows, record.rawLength == rawLength,
            record.recordLength == extent.length
        else {
            throw RowpackError(
                .corrupt, path: io.path,
                "chunk record says chunk \(record.chunk) with \(record.rows) rows in \(record.recordLength) bytes, index expects chunk \(chunk) with \(rows) rows in \(extent.length) bytes",
                offset: extent.offset, chunk: chunk)
        }
        var failure: FormatError?
        bytes.withUnsafeBytes { raw in
            do throws(FormatError) {
                try record.check(payload: UnsafeRawBufferPointer(rebasing: raw[ChunkRecord.size...]))
            } catch { failure = error }
        }
        if let failure { throw chunkError(failure, path: io.path, extent: extent, chunk: chunk) }
        return LoadedChunk(record: record, bytes: bytes, extent: extent, path: io.path)
    }

    /// Reads, checks and decodes chunk `chunk` into `output` (exactly `rows × rowBytes` bytes).
    static func decodeChunk(
        _ io: FileIO, header: FileHeader, extent: Extent, chunk: Int, rows: Int,
        into output: UnsafeMutableRawBufferPointer
    ) throws {
        try loadChunk(io, header: header, extent: extent, chunk: chunk, rows: rows).decode(into: output)
    }

    /// A payload problem as an error naming the file, the chunk and (at least) its record's offset.
    static func chunkError(_ error: FormatError, path: String, extent: Extent, chunk: Int) -> RowpackError {
        var wrapped = RowpackError(error, path: path, base: extent.offset + ChunkRecord.size, chunk: chunk)
        wrapped.offset = wrapped.offset ?? extent.offset
        return wrapped
    }
}
