import ArgumentParser
import Foundation
import Rowpack
import RowpackFormat

struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read rows of a container, as a .npy file or a text table.",
        discussion: """
            --rows takes a half-open range A:B (A: and :B work too). --rows-file lists one row \
            number per line; rows come out in the order listed, repeats included. --slice cuts the \
            trailing axes like numpy: `--rows 10:20 --slice 3:7` is a[10:20, 3:7].

            Examples:
              rowpack read sensors.rowpack --rows 100:200
              rowpack read sensors.rowpack --rows-file picks.txt --out picks.npy
              rowpack read images.rowpack --rows 0:100 --slice 8:24,8:24 --out crops.npy
            """
    )

    @Argument(help: "The container.")
    var container: String

    @Option(help: "Rows to read: A:B, A: or :B.")
    var rows: RowRange?

    @Option(
        name: .customLong("rows-file"),
        help: "A file of row numbers, one per line (read as it streams: a pipe works too).")
    var rowsFile: String?

    @Option(help: "Ranges of the trailing axes, comma-separated (axis 1 first), e.g. 3:7 or 0:2,5:9.")
    var slice: SliceList?

    @Option(help: "Write the rows to this .npy file instead of printing them.")
    var out: String?

    @Flag(name: .long, help: "With --out: replace the file if it exists (a regular file no writer holds).")
    var force = false

    @Option(name: .customLong("cache-mib"), help: "Decoded-chunk cache size in MiB.")
    var cacheMiB = 64

    func validate() throws {
        guard (rows == nil) != (rowsFile == nil) else {
            throw ValidationError("Give exactly one of --rows A:B and --rows-file LIST.")
        }
        guard cacheMiB >= 0, cacheMiB <= 1 << 20 else { throw ValidationError("--cache-mib must be in 0...1048576.") }
        if slice != nil && rowsFile != nil { throw ValidationError("--slice works with --rows, not with --rows-file.") }
        if force && out == nil { throw ValidationError("--force replaces the --out file: give --out too.") }
    }

    func run() throws {
        let reader = try openReader(container, cacheBytes: cacheMiB << 20)
        guard let rows else {
            let list = try RowListFile(path: rowsFile ?? "", rows: reader.rowCount)
            if let out {
                try reader.export(to: out, gatheringBlocks: list.next(limit:), overwrite: force)
            } else {
                try printRows(reader, blocks: list.next(limit:))
            }
            return
        }
        let range = try rows.resolved(in: reader, path: container)
        if let slice {
            let slices = try slice.resolved(shape: reader.header.rowShape, path: container)
            if let out {
                try reader.export(to: out, rows: range, slicing: slices, overwrite: force)
            } else {
                try printSlicedRows(reader, range: range, slices: slices)
            }
        } else if let out {
            try reader.export(to: out, rows: range, overwrite: force)
        } else {
            try printRows(reader, blocks: blocks(of: range))
        }
    }

    /// Prints rows `range` cut by `slices`, a block of rows at a time.
    private func printSlicedRows(_ reader: ContainerReader, range: Range<Int>, slices: [Range<Int>]) throws {
        let formatter = ElementFormatter(dtype: reader.header.dtype)
        let nextBlock = blocks(of: range)
        while case let block = nextBlock(textBlockRows(rowBytes: reader.header.rowBytes)), let first = block.first,
            let last = block.last
        {
            let bytes = try reader.read(rows: first..<last + 1, slicing: slices)
            let rowBytes = bytes.count / block.count
            var output = ""
            bytes.withUnsafeBytes { raw in
                for (slot, index) in block.enumerated() {
                    output +=
                        "\(index)\t"
                        + formatter.format(
                            UnsafeRawBufferPointer(rebasing: raw[slot * rowBytes..<(slot + 1) * rowBytes])) + "\n"
                }
            }
            try emit(output)
        }
    }
}

/// `--slice 3:7` or `--slice 0:2,5:9`: one range per trailing axis; `:` or an empty field takes
/// an axis whole.
struct SliceList: ExpressibleByArgument {
    var ranges: [RangeBounds]

    init?(argument: String) {
        var ranges: [RangeBounds] = []
        for field in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let range = field.isEmpty ? RangeBounds() : RangeBounds(parsing: field) else { return nil }
            ranges.append(range)
        }
        self.ranges = ranges
    }

    /// The ranges within `shape`, or an error naming the container.
    func resolved(shape: [Int], path: String) throws -> [Range<Int>] {
        guard ranges.count <= shape.count else {
            throw RowpackError(
                .invalidArgument, path: path, "--slice gives \(ranges.count) ranges, rows have shape \(shape)")
        }
        return try zip(ranges, shape).enumerated().map { axis, pair in
            let (bounds, length) = pair
            return try bounds.resolved(
                length: length, path: path, "slice \(bounds) is outside axis \(axis + 1), of length \(length)")
        }
    }
}

/// Rows per block of text output: about 4 MiB of rows, at most 65,536 of them.
func textBlockRows(rowBytes: Int) -> Int {
    max(1, min(1 << 16, (4 << 20) / max(1, rowBytes)))
}

/// The row numbers of `range` in blocks of at most the asked-for count, then empty blocks: so a
/// range of any length (a container may claim 2^63 - 1 rows) costs one block of memory.
func blocks(of range: Range<Int>) -> (_ limit: Int) -> [Int] {
    var next = range.lowerBound
    return { limit in
        let end = range.upperBound - next <= limit ? range.upperBound : next + limit
        defer { next = end }
        return Array(next..<end)
    }
}

/// Prints rows as a text table (the row number, a tab, the values), asking `nextBlock` for up to
/// a block of row numbers at a time until it returns none.
func printRows(_ reader: ContainerReader, blocks nextBlock: (_ limit: Int) throws -> [Int]) throws {
    let formatter = ElementFormatter(dtype: reader.header.dtype)
    let rowBytes = reader.header.rowBytes
    while case let block = try nextBlock(textBlockRows(rowBytes: rowBytes)), !block.isEmpty {
        let bytes = try reader.gather(rows: block)
        var output = ""
        bytes.withUnsafeBytes { raw in
            for (slot, index) in block.enumerated() {
                let row = UnsafeRawBufferPointer(rebasing: raw[slot * rowBytes..<(slot + 1) * rowBytes])
                output += "\(index)\t" + formatter.format(row) + "\n"
            }
        }
        try emit(output)
    }
}

/// Formats the elements of a row as text: numbers for plain numeric dtypes, hex otherwise.
struct ElementFormatter {
    let dtype: DType

    func format(_ row: UnsafeRawBufferPointer) -> String {
        func values<T>(_: T.Type, _ describe: (T) -> String) -> String {
            let size = MemoryLayout<T>.size
            return stride(from: 0, to: row.count - size + 1, by: size)
                .map { describe(row.loadUnaligned(fromByteOffset: $0, as: T.self)) }
                .joined(separator: " ")
        }
        switch dtype {
        case .bool: return values(UInt8.self) { $0 != 0 ? "True" : "False" }
        case .int8: return values(Int8.self) { "\($0)" }
        case .int16: return values(Int16.self) { "\($0)" }
        case .int32: return values(Int32.self) { "\($0)" }
        case .int64: return values(Int64.self) { "\($0)" }
        case .uint8: return values(UInt8.self) { "\($0)" }
        case .uint16: return values(UInt16.self) { "\($0)" }
        case .uint32: return values(UInt32.self) { "\($0)" }
        case .uint64: return values(UInt64.self) { "\($0)" }
        case .float32: return values(Float.self) { "\($0)" }
        case .float64: return values(Double.self) { "\($0)" }
        default: return row.map { String(format: "%02x", $0) }.joined()
        }
    }
}
