/// A complete commit trailer, newer than the commit that was opened, that fails its checks:
/// damage, not a torn write (`Spec/FORMAT.md` §7.2).
///
/// A crash leaves no such trailer: a torn trailer lacks one of its magics, and in `durable` mode
/// the root is on disk before its trailer is written. So the commit it ends was (very likely)
/// acknowledged to its writer, and its rows are at stake: readers say so, and writers refuse to
/// cut it off unless told to (``WriterOptions/discardDamagedCommit``).
public struct DamagedCommit: Sendable, CustomStringConvertible {
    /// Byte offset of the damaged trailer.
    public var trailerOffset: Int
    /// What is wrong with the trailer or its index root.
    public var error: RowpackError

    public var description: String {
        "the newest commit (trailer at byte \(trailerOffset)) is damaged: \(error.message)"
            + (error.offset.map { $0 == trailerOffset ? "" : " (byte \($0))" } ?? "")
    }
}
