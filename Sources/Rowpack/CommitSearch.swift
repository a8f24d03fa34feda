import RowpackFormat

/// The search for the newest valid commit (`Spec/FORMAT.md` §7.2), and what it leaves behind
/// for the next search of the same file (a refresh scans only bytes it has not seen).
///
/// Cost: the trailer at the end of the file and its root when that commit is valid; otherwise
/// one backward pass over the bytes searched, in 1 MiB blocks, plus the roots of candidates
/// whose trailers pass their own checks. Those roots end where their trailers start, and each
/// one read moves the search below its start, so the roots read are disjoint: a search reads
/// each byte it covers at most twice (scanning, and as part of a root) plus 127 bytes per
/// block, however many forged trailers they hold.
struct CommitSearch: Sendable {
    /// The newest valid commit found (nil when a refresh found nothing newer).
    var snapshot: Snapshot?
    /// The newest complete trailer above `snapshot` that failed its checks.
    var damage: DamagedCommit?
    /// The file size searched up to: candidates ending at or below it have been judged.
    var scannedEnd: Int
    /// Where roots of newer candidates may start: the end of the highest candidate whose root
    /// was read (a genuine newer commit's root lies after everything written before it).
    var rootFloor: Int

    /// Bytes of one block of the backward scan.
    static let blockBytes = 1 << 20

    /// Finds the newest valid commit of the file, whose size is `fileSize`.
    ///
    /// - Throws: ``RowpackError`` `.corrupt` if there is none, `.unsupported` when a newer
    ///   format's trailer is met first, `.io` on a failed read.
    static func newest(_ io: FileIO, header: FileHeader, fileSize: Int) throws -> (
        snapshot: Snapshot, search: CommitSearch
    ) {
        var size = fileSize
        let found = try untilStable(io, size: &size) { size in
            try search(io, header: header, fileSize: size, above: 0, rootFloor: header.byteCount)
        }
        guard let snapshot = found.snapshot else {
            if let damage = found.damage {
                throw RowpackError(
                    .corrupt, path: io.path, "no valid commit found; \(damage)", offset: damage.trailerOffset)
            }
            throw RowpackError(.corrupt, path: io.path, "no valid commit found (file ends at \(size) bytes)")
        }
        return (snapshot, found)
    }

    /// Looks for a commit newer than `current` in the bytes added since `self` was searched.
    ///
    /// Reads nothing when the file has not grown; when it has, only the new bytes (and the
    /// roots of new candidates). A file cut back (a writer removed a torn tail) is searched
    /// again from the end of `current`.
    ///
    /// - Throws: ``RowpackError`` `.corrupt` if the file shrank below `current`'s end.
    func refreshed(_ io: FileIO, header: FileHeader, current: Snapshot, fileSize: Int) throws -> CommitSearch {
        var size = fileSize
        let committed = current.trailer.committedLength
        return try Self.untilStable(io, size: &size) { size in
            guard size >= committed else {
                throw RowpackError(
                    .corrupt, path: io.path,
                    "file shrank to \(size) bytes, below the end of the commit this reader holds (\(committed) bytes): it was truncated or rewritten",
                    offset: size)
            }
            let base =
                size < scannedEnd
                ? CommitSearch(snapshot: nil, damage: nil, scannedEnd: committed, rootFloor: committed) : self
            guard size > base.scannedEnd else { return base }
            let found = try Self.search(
                io, header: header, fileSize: size, above: base.scannedEnd, rootFloor: base.rootFloor)
            if found.snapshot != nil { return found }
            return CommitSearch(
                snapshot: nil, damage: found.damage ?? base.damage, scannedEnd: size, rootFloor: found.rootFloor)
        }
    }

    /// Runs `search` on the file's `size`, and again on the new size whenever the file shrank
    /// while it ran (a writer cut a torn tail): what it read may then be gone or replaced.
    private static func untilStable(_ io: FileIO, size: inout Int, _ search: (Int) throws -> CommitSearch) throws
        -> CommitSearch
    {
        while true {
            let found: CommitSearch
            do { found = try search(size) } catch {
                let now = try io.size()
                guard now < size else { throw error }
                size = now
                continue
            }
            let now = try io.size()
            guard now < size else { return found }
            size = now
        }
    }

    /// Judges, newest first, every candidate trailer ending in `(above, fileSize]` (§7.2): the
    /// trailer that ends the file, then each end magic found scanning backwards. Stops at the
    /// first valid one.
    private static func search(_ io: FileIO, header: FileHeader, fileSize: Int, above: Int, rootFloor: Int) throws
        -> CommitSearch
    {
        let size = CommitTrailer.size
        let lowest = max(header.byteCount, above + 1 - size)  // the lowest byte a candidate can start at
        var ceiling = fileSize  // candidates end at or below this
        var damage: DamagedCommit?
        var nextFloor = rootFloor
        func result(_ snapshot: Snapshot?) -> CommitSearch {
            CommitSearch(snapshot: snapshot, damage: damage, scannedEnd: fileSize, rootFloor: nextFloor)
        }
        /// The commit whose trailer is `bytes` at `offset`, or nil (noting damage) when it is none.
        func judge(_ bytes: [UInt8], at offset: Int) throws -> Snapshot? {
            let trailer: CommitTrailer
            do { trailer = try CommitTrailer(decoding: bytes, at: offset, header: header) } catch {
                switch error.code {
                case .badMagic, .misplaced: return nil  // no trailer, or a copy of another file's or offset's
                case .unsupportedVersion: throw RowpackError(error, path: io.path)
                default:
                    damage = damage ?? DamagedCommit(trailerOffset: offset, error: RowpackError(error, path: io.path))
                    return nil
                }
            }
            guard trailer.root.offset >= rootFloor else {
                let message = "its index root starts before the end of an earlier candidate commit (byte \(rootFloor))"
                damage =
                    damage
                    ?? DamagedCommit(
                        trailerOffset: offset,
                        error: RowpackError(.corrupt, path: io.path, message, offset: trailer.root.offset))
                return nil
            }
            nextFloor = max(nextFloor, trailer.committedLength)
            ceiling = min(ceiling, trailer.root.offset)  // what lies inside this root is no trailer
            do { return try ContainerLayout.readCommit(io, header: header, trailer: trailer) } catch let error
                as RowpackError where error.code == .corrupt
            {
                damage = damage ?? DamagedCommit(trailerOffset: offset, error: error)
                return nil
            }
        }
        if fileSize - size >= lowest {
            let offset = fileSize - size
            let bytes = try io.read(count: size, at: offset, what: "the commit trailer")
            if let snapshot = try judge(bytes, at: offset) { return result(snapshot) }
            ceiling = min(ceiling, fileSize - 1)
        }
        let magic = CommitTrailer.endMagic
        var blockEnd = ceiling
        while blockEnd - lowest >= size {
            let blockStart = max(lowest, blockEnd - blockBytes)
            io.beforeScanBlock.withLock { $0 }?(blockStart)
            let bytes = try io.read(count: blockEnd - blockStart, at: blockStart, what: "the commit scan")
            // Positions of an end magic whose whole trailer lies in this block, highest first.
            var position = min(bytes.count, ceiling - blockStart) - magic.count
            while position >= size - magic.count, let found = lastIndex(of: magic[0], in: bytes, upTo: position + 1),
                found >= size - magic.count, blockStart + found + magic.count > above
            {
                if bytes[found..<found + magic.count].elementsEqual(magic) {
                    let end = found + magic.count
                    if let snapshot = try judge(Array(bytes[end - size..<end]), at: blockStart + end - size) {
                        return result(snapshot)
                    }
                }
                position = min(found - 1, ceiling - blockStart - magic.count)
            }
            // Blocks overlap by 127 bytes, so every trailer lies wholly inside one of them.
            guard blockStart > lowest, blockStart + size - 1 > above else { break }
            blockEnd = min(ceiling, blockStart + size - 1)
        }
        return result(nil)
    }
}
