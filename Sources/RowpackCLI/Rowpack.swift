import ArgumentParser

@main
struct RowpackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rowpack",
        abstract: "Append-only compressed containers for numeric arrays, and safe .npy appends.",
        subcommands: []
    )
}
