import ArgumentParser
import Rowpack

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a container (or a row range) to an uncompressed .npy file.",
        discussion: """
            The .npy has numpy's canonical header: numpy memory-maps it \
            (np.load(path, mmap_mode="r")), and npy-append-array or `rowpack npy-append` can \
            keep appending to it. The file appears atomically, complete, and an existing file is \
            replaced only with --force (never the container itself, a symbolic link or a device); \
            with --append the rows are added to an existing .npy of the same dtype and row shape.

            Examples:
              rowpack export sensors.rowpack sensors.npy
              rowpack export sensors.rowpack recent.npy --rows 1000000: --append
            """
    )

    @Argument(help: "The container.")
    var container: String

    @Argument(help: "The .npy file to write.")
    var destination: String

    @Option(help: "Rows to export: A:B, A: or :B (default: all).")
    var rows: RowRange?

    @Flag(help: "Append to an existing .npy instead of creating one.")
    var append = false

    @Flag(
        name: .customLong("rewrite-header"),
        help: "With --append: rewrite a header without growth room as numpy's canonical header.")
    var rewriteHeader = false

    @Flag(name: .long, help: "Replace the destination if it exists (a regular file no writer holds).")
    var force = false

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        if force && append {
            throw ValidationError("--force replaces a file and --append adds to one: give one of them.")
        }
    }

    func run() throws {
        let reader = try openReader(container, cacheBytes: 16 << 20)
        let range = try rows?.resolved(in: reader, path: container) ?? 0..<reader.rowCount
        let bar = progress.bar("export", unitBytes: reader.header.rowBytes)
        let count = try reader.export(
            to: destination, rows: range, append: append, rewriteHeader: rewriteHeader, overwrite: force,
            progress: bar.update)
        if !progress.quiet { note("exported \(count) rows to \(destination)") }
    }
}

struct NpyAppend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npy-append",
        abstract: "Append the rows of .npy files to another .npy file, safely.",
        discussion: """
            Rows are written and synced before the header's shape is updated, one sector at a \
            time, so a crash or power loss leaves a file numpy loads as the old or the new array \
            (`rowpack recover` then cuts the rows no append acknowledged). Dtypes and row shapes must match \
            exactly: nothing is cast. Files whose header has no room to grow (numpy < 1.24) are \
            refused unless --rewrite-header lets them be rewritten with a canonical header.

            Example: rowpack npy-append all.npy day2.npy day3.npy
            """
    )

    @Argument(help: "The .npy file to append to.")
    var destination: String

    @Argument(help: "The .npy files whose rows to append, in order.")
    var sources: [String]

    @Flag(
        name: .customLong("rewrite-header"), help: "Rewrite a header without growth room as numpy's canonical header.")
    var rewriteHeader = false

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("Give at least one .npy file to append.") }
    }

    func run() throws {
        let files = try sources.map { try NpyFile(path: $0) }
        let target = try NpyAppendFile(path: destination, rewriteHeader: rewriteHeader)
        for file in files {
            try file.requireRows(like: target.header.dtype, rowShape: target.header.rowShape, of: destination)
        }
        for file in files {
            let bar = progress.bar("append \(file.path)", unitBytes: file.rowBytes)
            try target.append(npy: file, progress: bar.update)
        }
        if !progress.quiet { note("\(destination) now holds \(target.rows) rows") }
    }
}
