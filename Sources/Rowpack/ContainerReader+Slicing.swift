import RowpackFormat

extension ContainerReader {
    /// Copies rows `range` restricted to `slices` of the trailing axes into `output`, in C
    /// order: numpy's `a[range, s0, s1, …]` for the ranges `s0, s1, …`.
    ///
    /// `slices` gives one range per trailing axis, starting with axis 1; axes it leaves out are
    /// taken whole. `output` holds `range.count × product(slice counts and remaining dims) ×
    /// itemSize` bytes. Each chunk involved is decoded once, through the cache.
    ///
    /// - Throws: ``RowpackError`` `.invalidArgument` for rows or slices out of range or a buffer
    ///   of the wrong size, `.corrupt` naming the chunk for a damaged chunk.
    public func read(rows range: Range<Int>, slicing slices: [Range<Int>], into output: UnsafeMutableRawBufferPointer)
        throws
    {
        let plan = try SlicePlan(shape: header.rowShape, itemSize: header.dtype.itemSize, slices: slices, path: path)
        let snapshot = current
        try check(range, rows: snapshot.rows)
        guard output.count == range.count * plan.outputRowBytes else {
            throw RowpackError(
                .invalidArgument, path: path,
                "buffer of \(output.count) bytes does not hold \(range.count) sliced rows of \(plan.outputRowBytes) bytes"
            )
        }
        var row = range.lowerBound
        while row < range.upperBound {
            let chunk = row / header.rowsPerChunk
            let chunkStart = chunk * header.rowsPerChunk
            let end = min(range.upperBound, chunkStart + header.rowsPerChunk)
            let bytes = try decodedChunk(chunk, in: snapshot)
            bytes.withUnsafeBytes { source in
                for r in row..<end {
                    let from = UnsafeRawBufferPointer(
                        rebasing: source[(r - chunkStart) * header.rowBytes..<(r - chunkStart + 1) * header.rowBytes])
                    let to = UnsafeMutableRawBufferPointer(
                        rebasing: output[
                            (r - range.lowerBound) * plan.outputRowBytes..<(r - range.lowerBound + 1)
                                * plan.outputRowBytes])
                    plan.copy(from, into: to)
                }
            }
            row = end
        }
    }

    /// Rows `range` restricted to `slices` of the trailing axes, as raw bytes.
    public func read(rows range: Range<Int>, slicing slices: [Range<Int>]) throws -> [UInt8] {
        let plan = try SlicePlan(shape: header.rowShape, itemSize: header.dtype.itemSize, slices: slices, path: path)
        try check(range, rows: current.rows)
        let count = try outputBytes(rows: range.count, rowBytes: plan.outputRowBytes, firstRow: range.lowerBound)
        return try filled(count: count) { try read(rows: range, slicing: slices, into: $0) }
    }

    /// Rows `range` restricted to `slices` of the trailing axes, as typed values in C order.
    public func read<T: RowElement>(rows range: Range<Int>, slicing slices: [Range<Int>], as type: T.Type) throws -> [T]
    {
        try checkType(T.self)
        let bytes = try read(rows: range, slicing: slices)
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    /// Writes rows `range` restricted to `slices` of the trailing axes to a new `.npy` file
    /// (canonical header), in blocks of bounded size, with the destination rules of
    /// ``export(to:rows:append:rewriteHeader:overwrite:durability:progress:)``.
    public func export(
        to path: String, rows range: Range<Int>, slicing slices: [Range<Int>], overwrite: Bool = false,
        durability: Durability = .durable
    ) throws {
        let plan = try SlicePlan(
            shape: header.rowShape, itemSize: header.dtype.itemSize, slices: slices, path: self.path)
        try check(range, rows: rowCount)
        let rowsPerBlock = max(1, Self.exportBlockBytes / max(1, header.rowBytes))
        let staged = try newFile(at: path, overwrite: overwrite, durability: durability)
        try NpyFile.create(in: staged, dtype: header.dtype, shape: [range.count] + plan.ranges.map(\.count)) { write in
            var start = range.lowerBound
            while start < range.upperBound {
                let end = range.upperBound - start <= rowsPerBlock ? range.upperBound : start + rowsPerBlock
                try read(rows: start..<end, slicing: slices).withUnsafeBytes { try write($0) }
                start = end
            }
        }
    }
}

/// How to copy a sub-block of one row: the runs of contiguous bytes, found by walking the
/// sliced axes (all but the last) like an odometer.
struct SlicePlan {
    let shape: [Int]
    let ranges: [Range<Int>]
    let itemSize: Int
    /// Bytes of one row after slicing.
    let outputRowBytes: Int

    init(shape: [Int], itemSize: Int, slices: [Range<Int>], path: String) throws {
        guard slices.count <= shape.count else {
            throw RowpackError(.invalidArgument, path: path, "\(slices.count) slices given for rows of shape \(shape)")
        }
        var ranges: [Range<Int>] = []
        for (axis, dim) in shape.enumerated() {
            let slice = axis < slices.count ? slices[axis] : 0..<dim
            guard slice.lowerBound >= 0, slice.upperBound <= dim else {
                throw RowpackError(
                    .invalidArgument, path: path,
                    "slice \(slice.lowerBound)..<\(slice.upperBound) of axis \(axis + 1) is outside 0..<\(dim)")
            }
            ranges.append(slice)
        }
        self.shape = shape
        self.ranges = ranges
        self.itemSize = itemSize
        // Cannot overflow: each count is at most its axis, and the whole row's bytes fit (§3.1).
        outputRowBytes = ranges.reduce(itemSize) { $0 * $1.count }
    }

    /// Copies the sliced elements of `row` (one full row) into `output` (one sliced row).
    func copy(_ row: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        guard let last = ranges.last else {
            output.copyMemory(from: row)
            return
        }
        guard outputRowBytes > 0 else { return }
        // Element strides of the full row, in C order.
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) {
            strides[axis] = strides[axis + 1] * shape[axis + 1]
        }
        let run = last.count * itemSize
        var index = ranges.map(\.lowerBound)
        var written = 0
        while written < outputRowBytes {
            let element = zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }
            UnsafeMutableRawBufferPointer(rebasing: output[written..<written + run])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: row[element * itemSize..<element * itemSize + run]))
            written += run
            // Advance the odometer over every axis but the last.
            var axis = shape.count - 2
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < ranges[axis].upperBound { break }
                index[axis] = ranges[axis].lowerBound
                axis -= 1
            }
        }
    }
}
