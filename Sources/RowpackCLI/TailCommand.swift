import ArgumentParser
import Foundation
import Rowpack

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the last rows of a container, and with --follow, rows as they are committed.",
        discussion: """
            Reads without locking, so it can follow a writer in another process: each new \
            commit's rows are printed once it is complete, never a partial commit.

            Examples:
              rowpack tail sensors.rowpack -n 5
              rowpack tail sensors.rowpack --follow
            """
    )

    @Argument(help: "The container.")
    var container: String

    @Option(name: [.customShort("n"), .long], help: "How many of the last rows to print first.")
    var lines = 10

    @Option(help: "Print from this row on instead of the last -n rows.")
    var from: Int?

    @Flag(name: [.customShort("f"), .long], help: "Keep printing rows as new commits arrive.")
    var follow = false

    @Option(name: .customLong("until-rows"), help: "With --follow, stop once the container holds this many rows.")
    var untilRows: Int?

    @Option(name: .customLong("interval-ms"), help: "With --follow, how often to look for new commits.")
    var intervalMs = 200

    /// The longest --interval-ms: an hour.
    static let maxIntervalMs = 3_600_000

    func validate() throws {
        guard lines >= 0 else { throw ValidationError("-n must not be negative.") }
        if let from, from < 0 { throw ValidationError("--from must not be negative.") }
        if let untilRows, untilRows < 0 { throw ValidationError("--until-rows must not be negative.") }
        guard (1...Self.maxIntervalMs).contains(intervalMs) else {
            throw ValidationError("--interval-ms must be in 1...\(Self.maxIntervalMs).")
        }
    }

    func run() throws {
        let reader = try openReader(container, cacheBytes: 16 << 20)
        var printed = from ?? max(0, reader.rowCount - lines)
        while true {
            let rows = reader.rowCount
            if rows > printed {
                try printRows(reader, blocks: blocks(of: printed..<rows))
                printed = rows
            }
            if !follow { return }
            if let untilRows, rows >= untilRows { return }
            Thread.sleep(forTimeInterval: Double(intervalMs) / 1000)
            let wasDamaged = reader.damagedCommit != nil
            try reader.refresh()
            if !wasDamaged { warnIfDamaged(reader) }
        }
    }
}
