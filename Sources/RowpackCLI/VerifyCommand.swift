import ArgumentParser
import Foundation
import Rowpack

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and decode every chunk of a container.",
        discussion: """
            Exits 0 only if the newest commit, every index page and every chunk are intact; \
            otherwise lists each damaged structure (chunk number and byte offset) and exits 1. \
            A damaged newest commit (a complete trailer failing its checks) is reported, and the \
            newest intact commit is checked.

            Example: rowpack verify sensors.rowpack
            """
    )

    @Argument(help: "The container.")
    var container: String

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let reader = try ContainerReader(path: container, cacheBytes: 0)
        let bar = progress.bar("verify", unitBytes: reader.header.rowsPerChunk * reader.header.rowBytes)
        if let damage = reader.damagedCommit {
            note(
                "damaged: \(container): \(damage); checking the newest intact commit, \(reader.commit.sequence) (\(reader.rowCount) rows)"
            )
        }
        let problems = reader.verify(progress: bar.update)
        for problem in problems { note("damaged: \(problem)") }
        let count = problems.count + (reader.damagedCommit == nil ? 0 : 1)
        guard count == 0 else {
            throw RowpackError(.corrupt, path: container, "\(count) damaged structure\(count == 1 ? "" : "s") found")
        }
        try say(
            "\(container): ok, \(reader.rowCount) rows in \(reader.chunkCount) chunks, commit \(reader.commit.sequence)"
        )
    }
}

struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Repair what a crash left: a container's torn tail, or bytes after a .npy file's data.",
        discussion: """
            For a container: cuts bytes after the newest valid commit (readers ignore them \
            anyway; writers cut them on open). A damaged newest commit (a complete trailer that \
            fails its checks, not a crash) is never cut without --discard-damaged. For a .npy \
            file: cuts the bytes after the rows its header claims. No append acknowledged them \
            (appends sync their rows before the header claims them), and after a power loss they \
            may read as zeros, so they are never turned into rows unless --adopt-trailing-rows \
            says so.

            Examples:
              rowpack recover sensors.rowpack
              rowpack recover log.npy
              rowpack recover naa.npy --adopt-trailing-rows
            """
    )

    @Argument(help: "The container or .npy file.")
    var file: String

    @Flag(
        name: .customLong("discard-damaged"),
        help: "Also cut a damaged newest commit (refused otherwise) and keep the newest intact one.")
    var discardDamaged = false

    @Flag(
        name: .customLong("adopt-trailing-rows"),
        help: """
            .npy only: make the header claim every whole row after its data instead of cutting \
            them (for writers that update the header late, such as npy-append-array until it is \
            closed). The rows are not verified: after a power loss they may be zeros.
            """)
    var adoptTrailingRows = false

    func run() throws {
        if try isNpy(file) {
            let recovery = try NpyAppendFile.recover(path: file, adoptTrailingRows: adoptTrailingRows)
            if recovery.rowsAfter == recovery.rowsBefore && recovery.bytesDropped == 0 {
                try say("\(file): nothing to recover (\(recovery.rowsAfter) rows)")
            } else if recovery.rowsAfter == recovery.rowsBefore {
                try say(
                    "\(file): cut \(recovery.bytesDropped) bytes after the \(recovery.rowsAfter) rows its header claims (never acknowledged; --adopt-trailing-rows would keep them as rows, unverified)"
                )
            } else {
                try say(
                    "\(file): adopted \(recovery.rowsAfter - recovery.rowsBefore) unverified trailing rows: the header now claims \(recovery.rowsAfter) rows (was \(recovery.rowsBefore)); dropped \(recovery.bytesDropped) bytes of a partial row"
                )
            }
        } else {
            guard !adoptTrailingRows else {
                throw RowpackError(.invalidArgument, path: file, "--adopt-trailing-rows applies to .npy files only")
            }
            let recovery = try ContainerWriter.recover(at: file, discardDamaged: discardDamaged)
            if let damage = recovery.discarded {
                try say(
                    "\(file): discarded \(damage); dropped \(recovery.bytesDropped) bytes; back at commit \(recovery.commit) with \(recovery.rows) rows"
                )
            } else if recovery.bytesDropped == 0 {
                try say("\(file): nothing to recover (commit \(recovery.commit), \(recovery.rows) rows)")
            } else {
                try say(
                    "\(file): dropped \(recovery.bytesDropped) uncommitted bytes; back at commit \(recovery.commit) with \(recovery.rows) rows"
                )
            }
        }
    }
}

/// Whether `path` starts with the .npy magic.
func isNpy(_ path: String) throws -> Bool {
    let npyMagic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    func failure(_ what: String) -> RowpackError {
        let code = errno
        return RowpackError(.io, path: path, "cannot \(what): \(String(cString: strerror(code)))", errno: code)
    }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw failure("open") }
    defer { close(descriptor) }
    var prefix = [UInt8](repeating: 0, count: npyMagic.count)
    var count: Int
    repeat {
        count = prefix.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    } while count < 0 && errno == EINTR
    guard count >= 0 else { throw failure("read") }
    return count == npyMagic.count && prefix == npyMagic
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a container without dead space, optionally recompressing or rechunking.",
        discussion: """
            Unset options keep the source's settings. The copy appears only once it is \
            complete and synced; with --force the destination may be the source itself, which \
            stays whole until its compacted copy replaces it.

            Examples:
              rowpack compact sensors.rowpack tidy.rowpack
              rowpack compact sensors.rowpack small.rowpack --codec zstd --level 9
            """
    )

    @Argument(help: "The container to copy.")
    var source: String

    @Argument(help: "The container to create.")
    var destination: String

    @OptionGroup var storage: StorageOptions

    @Flag(name: .long, help: "Replace the destination if it exists (a regular file no writer holds).")
    var force = false

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let reader = try openReader(source, cacheBytes: 0)
        try storage.validateLevel(defaultCodec: reader.header.codec)
        let bar = progress.bar("compact", unitBytes: reader.header.rowBytes)
        try reader.compact(
            to: destination, options: storage.writerOptions(base: reader.header), overwrite: force, progress: bar.update
        )
        if !progress.quiet {
            note(
                "wrote \(reader.rowCount) rows to \(destination) (dropped \(formatBytes(reader.commit.deadBytes)) of dead space)"
            )
        }
    }
}
