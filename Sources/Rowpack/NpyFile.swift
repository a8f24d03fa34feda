public import RowpackFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A `.npy` file opened to read its rows: the parsed header and positional reads of its data.
///
/// Opening checks that the file holds at least the data its header promises; it never loads
/// the data. Rows are axis-0 slices, so Fortran-order files with two or more dimensions and 0-d
/// arrays (which have no axis 0) are refused by ``requireRows()``.
public struct NpyFile: Sendable {
    /// The file's path.
    public let path: String
    /// The parsed header.
    public let header: NpyHeader
    /// The file's size when opened.
    public let fileSize: Int
    let io: FileIO

    /// Bytes of one row: `itemSize × product(rowShape)` (checked when the header was parsed).
    public var rowBytes: Int { header.rowBytes }
    /// Bytes after the data the header describes (0 for a well-formed file).
    public var trailingBytes: Int { fileSize - header.dataOffset - header.dataByteCount }

    /// Opens and parses `path`.
    ///
    /// - Parameter writable: open read-write instead of read-only. Appenders use
    ///   ``NpyFile/lockedForWriting(_:)`` instead, which takes the writer's lock before parsing.
    /// - Throws: ``RowpackError`` `.corrupt` for a bad header or a file shorter than its data,
    ///   `.io` if it cannot be opened.
    public init(path: String, writable: Bool = false) throws {
        try self.init(path: path, io: writable ? try FileIO.openForWriting(path) : try FileIO.openForReading(path))
    }

    /// Opens `path` read-write, takes the writer's lock, and only then reads its size and header,
    /// so what the caller is about to change is what the file holds (`DESIGN.md` §9: lock first,
    /// then read the state you are about to change).
    ///
    /// - Throws: ``RowpackError`` `.locked` if another writer holds the file, and the errors of
    ///   ``init(path:writable:)``.
    static func lockedForWriting(_ path: String) throws -> NpyFile {
        let io = try FileIO.openForWriting(path)
        try io.lockForWriting()
        return try NpyFile(path: path, io: io)
    }

    /// Reads the size and header of the file open as `io`.
    init(path: String, io: FileIO) throws {
        let size = try io.size()
        let prefix = try io.read(count: min(size, 12), at: 0, what: "the .npy header")
        let length: Int
        do { length = try NpyHeader.headerLength(prefix: prefix) } catch { throw RowpackError(error, path: path) }
        guard length <= size else {
            throw RowpackError(
                .corrupt, path: path, ".npy header claims \(length) bytes, the file has \(size)", offset: 8)
        }
        let header: NpyHeader
        do { header = try NpyHeader(parsing: try io.read(count: length, at: 0, what: "the .npy header")) } catch let
            error as FormatError
        {
            throw RowpackError(error, path: path)
        }
        guard header.dataByteCount <= size - header.dataOffset else {
            throw RowpackError(
                .corrupt, path: path,
                "file holds \(size - header.dataOffset) bytes of data, its header (shape \(header.shape)) promises \(header.dataByteCount)",
                offset: size)
        }
        self.init(path: path, header: header, fileSize: size, io: io)
    }

    /// The file open as `io`, described by `header` (which the caller has checked against it).
    init(path: String, header: NpyHeader, fileSize: Int, io: FileIO) {
        self.path = path
        self.header = header
        self.fileSize = fileSize
        self.io = io
    }

    /// Throws unless the file's data is a sequence of C-order rows along axis 0.
    public func requireRows() throws {
        guard !header.shape.isEmpty else {
            throw RowpackError(.mismatch, path: path, "a 0-d array has no rows to append or import")
        }
        guard !(header.fortranOrder && header.shape.count > 1) else {
            throw RowpackError(
                .mismatch, path: path,
                "Fortran-order arrays are not supported (rows are not contiguous); re-save it with np.save(path, np.ascontiguousarray(a))"
            )
        }
    }

    /// Throws unless the file's rows can be appended to `target`, which holds rows of `dtype`
    /// and `rowShape`: the error names both dtypes or both row shapes.
    public func requireRows(like dtype: DType, rowShape: [Int], of target: String) throws {
        try requireRows()
        guard header.dtype == dtype else {
            throw RowpackError(
                .mismatch, path: path, "dtype mismatch: the file holds \(header.dtype), \(target) holds \(dtype)")
        }
        guard header.rowShape == rowShape else {
            throw RowpackError(
                .mismatch, path: path,
                "row shape mismatch: the file's rows are \(header.rowShape), \(target) holds rows of \(rowShape)")
        }
    }

    /// Writes a `.npy` of `dtype` and `shape` with numpy's canonical header into `file`,
    /// followed by the data bytes `fill` passes to its writer (exactly `product(shape) ×
    /// itemSize`), then publishes it (``StagedFile/publish()``): the destination never holds a
    /// partial file, and on any failure it keeps what it held.
    ///
    /// With `rowsFromData`, `shape[0]` is not known in advance: the header is rewritten at the
    /// end for the whole rows `fill` wrote (the canonical header's length does not depend on it).
    ///
    /// - Throws: ``RowpackError`` for an invalid shape, a wrong data size, I/O failures, or
    ///   whatever `fill` throws.
    static func create(
        in file: StagedFile, dtype: DType, shape: [Int], rowsFromData: Bool = false,
        fill: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let npyHeader: [UInt8]
        do { npyHeader = try NpyHeader.canonical(dtype: dtype, shape: shape) } catch {
            throw RowpackError(error, path: file.destination)
        }
        let dataBytes = shape.reduce(dtype.itemSize, *)  // cannot overflow: canonical() checked it
        try file.io.write(npyHeader, at: 0)
        var at = npyHeader.count
        try fill { block in
            try file.io.write(block, at: at)
            at += block.count
        }
        if rowsFromData {
            let rowBytes = shape.dropFirst().reduce(dtype.itemSize, *)
            var final = shape
            final[0] = rowBytes > 0 ? (at - npyHeader.count) / rowBytes : 0
            do { try file.io.write(try NpyHeader(parsing: npyHeader).withShape(final), at: 0) } catch let error
                as FormatError
            {
                throw RowpackError(error, path: file.destination)
            }
        } else if at != npyHeader.count + dataBytes {
            throw RowpackError(
                .io, path: file.destination, "wrote \(at - npyHeader.count) data bytes, expected \(dataBytes)")
        }
        try file.publish()
    }

    /// Reads rows `range` into `buffer` (exactly `range.count × rowBytes` bytes).
    func read(rows range: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws {
        try io.read(into: buffer, at: header.dataOffset + range.lowerBound * rowBytes, what: "rows \(range)")
    }

    /// Calls `body` with consecutive blocks of whole rows, about `blockBytes` each, reusing one
    /// buffer: memory stays bounded whatever the file size. `rows` (the header's rows by
    /// default) may include rows past those the header claims, which the caller has checked
    /// are in the file.
    func forEachBlock(
        rows: Int? = nil, blockBytes: Int = 8 << 20, _ body: (UnsafeRawBufferPointer, Range<Int>) throws -> Void
    ) throws {
        let total = rows ?? header.rows
        let rowBytes = max(1, self.rowBytes)
        // No more rows than the file holds: its header's claims were checked against its size.
        let rowsPerBlock = min(max(1, blockBytes / rowBytes), header.rows)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: rowsPerBlock * rowBytes, alignment: 64)
        defer { buffer.deallocate() }
        var start = 0
        while start < total {
            let count = min(rowsPerBlock, total - start)
            let block = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count * self.rowBytes])
            try read(rows: start..<start + count, into: block)
            try body(UnsafeRawBufferPointer(block), start..<start + count)
            start += count
        }
    }
}
