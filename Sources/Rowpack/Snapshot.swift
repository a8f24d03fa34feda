import RowpackFormat

/// One commit of a container as readers and the writer see it: the trailer and the root's list
/// of index leaves. Immutable; everything it points to lies below `trailer.committedLength`
/// and is never rewritten.
struct Snapshot: Sendable {
    let trailer: CommitTrailer
    let leaves: [Extent]

    var rows: Int { trailer.rows }
    var chunks: Int { trailer.chunks }
}
