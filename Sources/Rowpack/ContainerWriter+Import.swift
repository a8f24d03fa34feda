import RowpackFormat

/// Reports progress of a long operation: units done so far, and the total.
public typealias Progress = (_ done: Int, _ total: Int) -> Void

extension ContainerWriter {
    /// Creates a container whose dtype and row shape are those of a `.npy` file, and imports
    /// its rows (one commit).
    ///
    /// - Throws: ``RowpackError`` as ``create(at:dtype:rowShape:options:overwrite:)`` and
    ///   ``append(npy:progress:)`` do.
    public static func create(
        at path: String, importing npy: NpyFile, options: WriterOptions = WriterOptions(), overwrite: Bool = false,
        progress: Progress = { _, _ in }
    ) throws -> ContainerWriter {
        try npy.requireRows()
        let writer = try create(at: path, dtype: npy.header.dtype, rowShape: npy.header.rowShape, options: options, overwrite: overwrite)
        try writer.append(npy: npy, progress: progress)
        return writer
    }

    /// Appends every row of a `.npy` file, streaming it in blocks (memory stays bounded).
    /// Does not commit.
    ///
    /// - Throws: ``RowpackError`` `.mismatch` if the file's dtype or row shape differs from the
    ///   container's (both are named), or it is Fortran-ordered or 0-d.
    public func append(npy: NpyFile, progress: Progress = { _, _ in }) throws {
        try npy.requireRows(like: header.dtype, rowShape: header.rowShape, of: path)
        try npy.forEachBlock { block, rows in
            try append(rawRows: block)
            progress(rows.upperBound, npy.header.rows)
        }
    }
}
