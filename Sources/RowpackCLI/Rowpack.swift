import ArgumentParser
import Foundation

@main
struct RowpackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rowpack",
        abstract: "Append-only compressed containers for numeric arrays, and safe appends to .npy files.",
        discussion: """
            A .rowpack container stores an array grown along axis 0 as compressed chunks behind \
            crash-safe commits. Import .npy files, append more, read rows and slices, and export \
            back to .npy files that numpy memory-maps.

            Exit status: 0 success, 1 runtime error (bad file, mismatch, I/O), 64 usage error. \
            Output cut short by its reader (`rowpack read … | head`) ends quietly with status 0.
            """,
        version: "0.1.0",
        subcommands: [
            Import.self, Append.self, Info.self, Read.self, Export.self, Verify.self, Recover.self, Compact.self,
            NpyAppend.self, Tail.self, Demo.self,
        ]
    )

    static func main() {
        // A closed pipe (`rowpack read … | head`) must be a write error (EPIPE), not a signal;
        // on stdout it ends the command quietly (`StandardOutputClosed`).
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (`ulimit -f`) must be a write error (EFBIG) reported in one line,
        // not a silent death by SIGXFSZ halfway through a write.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch is StandardOutputClosed {
            Foundation.exit(0)
        } catch {
            exit(withError: error)
        }
    }
}
