import ArgumentParser
import Rowpack

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a container from a .npy file.",
        discussion: """
            The container takes the file's dtype and row shape (the shape without axis 0). \
            The file is streamed: it is never loaded whole. The container appears only once it \
            is complete and synced; until then (and if the import fails) the destination keeps \
            what it held.

            Example: rowpack import sensors.npy sensors.rowpack --codec zstd --level 3
            """
    )

    @Argument(help: "The .npy file to import.")
    var source: String

    @Argument(help: "The container to create.")
    var destination: String

    @OptionGroup var storage: StorageOptions

    @Flag(name: .long, help: "Replace the destination if it exists (a regular file no writer holds).")
    var force = false

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let npy = try NpyFile(path: source)
        let bar = progress.bar("import", unitBytes: npy.rowBytes)
        let writer = try ContainerWriter.create(
            at: destination, importing: npy, options: storage.writerOptions(), overwrite: force, progress: bar.update)
        try writer.close()
        if !progress.quiet { note("imported \(npy.header.rows) rows into \(destination)") }
    }
}

struct Append: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the rows of .npy files to a container, in one commit.",
        discussion: """
            Every file must have the container's dtype and row shape; nothing is cast. If any \
            file is refused, nothing of this call is committed.

            Example: rowpack append sensors.rowpack day2.npy day3.npy
            """
    )

    @Argument(help: "The container to append to.")
    var container: String

    @Argument(help: "The .npy files whose rows to append, in order.")
    var sources: [String]

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("Give at least one .npy file to append.") }
    }

    func run() throws {
        let files = try sources.map { try NpyFile(path: $0) }
        let writer = try ContainerWriter.open(at: container)
        for file in files {
            try file.requireRows(like: writer.header.dtype, rowShape: writer.header.rowShape, of: container)
        }
        var rows = 0
        for file in files {
            let bar = progress.bar("append \(file.path)", unitBytes: file.rowBytes)
            try writer.append(npy: file, progress: bar.update)
            rows += file.header.rows
        }
        try writer.close()
        if !progress.quiet { note("appended \(rows) rows to \(container) (now \(writer.rowCount) rows)") }
    }
}
