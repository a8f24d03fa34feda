import RowpackFormat

/// Reports progress of a long operation: units done so far, and the total.
public typealias Progress = (_ done: Int, _ total: Int) -> Void

extension ContainerWriter {
    /// Creates a container whose dtype and row shape are those of a `.npy` file, and imports
    /// its rows (one commit).
    ///
    /// The container is built aside and appears at `path` only when ``close()`` has committed
    /// and synced it: until then (and if anything fails, the writer is dropped or the process
    /// dies) `path` keeps what it held, or stays absent (`Spec/FORMAT.md` §8.1). Rows appended
    /// before ``close()`` are part of that first publication.
    ///
    /// - Throws: ``RowpackError`` as ``create(at:dtype:rowShape:options:overwrite:)`` and
    ///   ``append(npy:progress:)`` do; `.invalidArgument` if `path` is the `.npy` file itself.
    public static func create(
        at path: String, importing npy: NpyFile, options: WriterOptions = WriterOptions(), overwrite: Bool = false,
        progress: Progress = { _, _ in }
    ) throws -> ContainerWriter {
        try npy.requireRows()
        let writer = try staged(
            at: path, dtype: npy.header.dtype, rowShape: npy.header.rowShape, options: options, overwrite: overwrite,
            sources: [npy.io])
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
