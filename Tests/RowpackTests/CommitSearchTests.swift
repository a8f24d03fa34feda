import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// Finding the newest commit (`Spec/FORMAT.md` §7.2): a damaged newest commit is reported and
/// never cut silently, opening costs O(file) however many forged trailers the file holds, a
/// refresh reads only new bytes, and a follower survives a writer cutting a torn tail and
/// notices its path being replaced.
@Suite struct CommitSearchTests {
    /// The corruption tests' three-commit container (19 rows; the newest commit has 3 rows more).
    static func fixture(_ directory: TemporaryDirectory) throws -> (
        path: String, data: [UInt8], history: [ParsedCommit]
    ) {
        let (bytes, data, _) = try CorruptionTests.makeFixture(directory)
        let path = directory.file("c.rowpack")
        try writeFile(path, bytes)
        return (path, data, try parseCommitHistory(bytes))
    }

    static func bytesRead(_ reader: ContainerReader) -> Int { reader.io.bytesRead.load(ordering: .relaxed) }

    // MARK: - Damage is not a torn write

    /// One flipped bit in the newest trailer's `time` field: readers open the previous commit
    /// and say the newest is damaged; a writer and `recover` refuse to cut it, naming the
    /// trailer and the commit they would keep; `recover(discardDamaged: true)` cuts it.
    @Test func damagedNewestTrailerIsReportedAndNotCut() throws {
        let directory = try TemporaryDirectory()
        let (path, data, history) = try Self.fixture(directory)
        let newest = try #require(history.last)
        let previous = history[history.count - 2]
        try xorByte(path, at: newest.trailer.offset + 96, 0x01)  // the time field
        let image = try fileBytes(path)

        let reader = try ContainerReader(path: path)
        #expect(reader.commit.sequence == previous.trailer.sequence)
        #expect(try readAll(reader) == CorruptionTests.rows(data, 0..<previous.trailer.rows))
        let damage = try #require(reader.damagedCommit)
        #expect(damage.trailerOffset == newest.trailer.offset)
        #expect(damage.error.code == .corrupt && damage.description.contains("checksum"), "\(damage)")

        for open in [{ _ = try ContainerWriter.open(at: path) }, { _ = try ContainerWriter.recover(at: path) }] {
            let refusal = try #require(expectRowpackError(.corrupt) { try open() })
            #expect(refusal.offset == newest.trailer.offset)
            #expect(refusal.message.contains("byte \(newest.trailer.offset)"), "\(refusal)")
            #expect(
                refusal.message.contains("keep commit \(previous.trailer.sequence) (\(previous.trailer.rows) rows"),
                "\(refusal)")
            #expect(try fileBytes(path) == image, "refusing must not modify the file")
        }

        let recovery = try ContainerWriter.recover(at: path, discardDamaged: true)
        #expect(recovery.discarded?.trailerOffset == newest.trailer.offset)
        #expect(recovery.commit == previous.trailer.sequence && recovery.rows == previous.trailer.rows)
        #expect(recovery.bytesDropped == newest.trailer.committedLength - previous.trailer.committedLength)
        #expect(try fileSize(path) == previous.trailer.committedLength)
        #expect(try ContainerReader(path: path).damagedCommit == nil)
        try ContainerWriter.open(at: path).close()
    }

    /// A trailer that passes its own checks over a damaged root is damage too (in `durable`
    /// mode the root is synced before the trailer is written); the writer option cuts it.
    @Test func damagedRootOfTheNewestCommitIsReported() throws {
        let directory = try TemporaryDirectory()
        let (path, _, history) = try Self.fixture(directory)
        let newest = try #require(history.last)
        try xorByte(path, at: newest.root.offset + 16, 0x04)
        let reader = try ContainerReader(path: path)
        #expect(reader.commit.sequence == newest.trailer.sequence - 1)
        #expect(reader.damagedCommit?.trailerOffset == newest.trailer.offset)
        #expect(
            reader.damagedCommit?.description.contains("root") == true, "\(String(describing: reader.damagedCommit))")
        expectRowpackError(.corrupt) { _ = try ContainerWriter.open(at: path) }
        let writer = try ContainerWriter.open(at: path, options: WriterOptions(discardDamagedCommit: true))
        #expect(writer.rowCount == history[history.count - 2].trailer.rows)
        try writer.close()
        #expect(try fileSize(path) == history[history.count - 2].trailer.committedLength)
    }

    /// A commit whose root does not end where its trailer starts (every checksum valid) is not
    /// valid (`Spec/FORMAT.md` §6.2 check 10): the previous commit opens, the newest is damaged.
    @Test func rootMustEndWhereItsTrailerStarts() throws {
        let directory = try TemporaryDirectory()
        let (path, _, history) = try Self.fixture(directory)
        let newest = try #require(history.last)
        var bytes = try fileBytes(path)
        var moved = newest.trailer
        moved.committedLength += 16
        bytes.replaceSubrange(
            newest.trailer.offset..<bytes.count, with: [UInt8](repeating: 0, count: 16) + moved.encoded())
        try writeFile(path, bytes)
        let reader = try ContainerReader(path: path)
        #expect(reader.commit.sequence == newest.trailer.sequence - 1)
        #expect(
            reader.damagedCommit?.error.message.contains("does not end where its trailer starts") == true,
            "\(String(describing: reader.damagedCommit))")
    }

    // MARK: - Bounded cost

    /// 4,000 forged trailers, every checksum valid, each naming as its root everything from the
    /// end of the creating commit up to itself (so reading each root whole before finding it bad
    /// would read 1 GB from a 512 KB file). Opening reads less than 3 × the file, with or
    /// without a torn tail after them, finds the creating commit and reports the newest forged
    /// one as damaged.
    @Test(arguments: [0, 100])
    func forgedTrailersCostAtMostLinearBytes(tornTail: Int) throws {
        let directory = try TemporaryDirectory()
        let header = try FileHeader(
            uuid: [UInt8](repeating: 0x5A, count: 16), dtype: .uint8, rowShape: [], rowsPerChunk: 1, codec: .none,
            level: 0,
            filter: .none, leafCapacity: 1)
        var bytes = handBuiltContainer(header: header, rows: 0, records: [])
        let creatingEnd = bytes.count
        bytes += [UInt8](repeating: 0x33, count: IndexPage.length(entries: 0))
        for i in 0..<4000 {
            let offset = bytes.count
            let leaves = (offset - creatingEnd - IndexPage.length(entries: 0)) / 16  // a root ending at this trailer
            bytes += CommitTrailer(
                sequence: UInt64(i + 2), rows: leaves, chunks: leaves,
                root: Extent(offset: creatingEnd, length: offset - creatingEnd),
                rootChecksum: 0, previousTrailer: 0, committedLength: offset + CommitTrailer.size, deadBytes: 0,
                uuid: header.uuid, timeNanoseconds: 0
            ).encoded()
        }
        let lastTrailer = bytes.count - CommitTrailer.size
        bytes += [UInt8](repeating: 0x44, count: tornTail)
        let path = directory.file("forged.rowpack")
        try writeFile(path, bytes)

        let reader = try ContainerReader(path: path)
        let read = Self.bytesRead(reader)
        #expect(read <= 3 * bytes.count, "opening a \(bytes.count)-byte file read \(read) bytes")
        #expect(reader.commit.sequence == 1)
        #expect(reader.damagedCommit?.trailerOffset == lastTrailer)
        expectRowpackError(.corrupt) { _ = try ContainerWriter.open(at: path) }
    }

    /// An idle refresh of a file with a 64 MiB torn tail reads nothing; after the tail grows by
    /// 1 MiB, it reads only that (and the 127 bytes a trailer could straddle, per block).
    @Test func refreshReadsOnlyNewBytes() throws {
        let directory = try TemporaryDirectory()
        let (path, _, history) = try Self.fixture(directory)
        let size = try fileSize(path)
        try writeAt(path, offset: size, [UInt8](repeating: 0, count: 64 << 20))
        let reader = try ContainerReader(path: path)
        #expect(reader.commit.sequence == history.last?.trailer.sequence)
        #expect(Self.bytesRead(reader) <= size + (64 << 20) + 64 * 1024)
        for poll in 0..<3 {
            let before = Self.bytesRead(reader)
            #expect(try reader.refresh() == false)
            #expect(
                Self.bytesRead(reader) == before, "idle refresh \(poll) read \(Self.bytesRead(reader) - before) bytes")
        }
        try writeAt(path, offset: size + (64 << 20), [UInt8](repeating: 0, count: 1 << 20))
        let before = Self.bytesRead(reader)
        #expect(try reader.refresh() == false)
        #expect(Self.bytesRead(reader) - before <= (1 << 20) + 4096)
        let idle = Self.bytesRead(reader)
        #expect(try reader.refresh() == false)
        #expect(Self.bytesRead(reader) == idle)
    }

    // MARK: - Followers

    /// A writer cuts the torn tail a follower has scanned and commits less than the tail was:
    /// the follower's next refresh finds the new commit instead of failing.
    @Test func followerSurvivesAWriterCuttingATornTail() throws {
        let directory = try TemporaryDirectory()
        let (path, data, _) = try Self.fixture(directory)
        let size = try fileSize(path)
        try writeAt(path, offset: size, [UInt8](repeating: 0, count: 3 << 20))
        let reader = try ContainerReader(path: path)
        #expect(try reader.refresh() == false)
        let more = SeededRandom(seed: 8).bytesOf(rows: 5, rowBytes: CorruptionTests.rowBytes)
        let writer = try ContainerWriter.open(at: path)
        try writer.append(rawRows: more)
        try writer.close()
        #expect(try fileSize(path) < size + (3 << 20))
        #expect(try reader.refresh())
        #expect(try readAll(reader) == data + more)
        #expect(reader.damagedCommit == nil)
    }

    /// The file is cut back to the follower's commit in the middle of a refresh's scan (a
    /// writer removing the torn tail): the search restarts at the new size instead of reporting
    /// "file ends inside the commit scan".
    @Test func fileCutInTheMiddleOfAScanRestartsTheSearch() throws {
        let directory = try TemporaryDirectory()
        let (path, data, history) = try Self.fixture(directory)
        let committed = try #require(history.last).trailer.committedLength
        try writeAt(path, offset: committed, [UInt8](repeating: 0, count: 1 << 20))
        let reader = try ContainerReader(path: path)
        try writeAt(path, offset: committed + (1 << 20), [UInt8](repeating: 0, count: 3 << 20))
        let cuts = Counter()
        reader.io.beforeScanBlock.withLock {
            $0 = { _ in
                guard (try? fileSize(path)) ?? 0 > committed else { return }
                cuts.add()
                try? truncateFile(path, to: committed)
            }
        }
        #expect(try reader.refresh() == false)
        #expect(cuts.value == 1)
        #expect(reader.rowCount == 19)
        #expect(try readAll(reader) == data)
        let more = SeededRandom(seed: 9).bytesOf(rows: 2, rowBytes: CorruptionTests.rowBytes)
        let writer = try ContainerWriter.open(at: path)
        try writer.append(rawRows: more)
        try writer.close()
        #expect(try reader.refresh())
        #expect(try readAll(reader) == data + more)
    }

    /// A file cut below the commit a follower holds is an error that says so.
    @Test func fileShrunkBelowTheReadersCommitIsAnError() throws {
        let directory = try TemporaryDirectory()
        let (path, _, history) = try Self.fixture(directory)
        let reader = try ContainerReader(path: path)
        try truncateFile(path, to: try #require(history.last).trailer.committedLength - 1)
        let error = expectRowpackError(.corrupt) { try reader.refresh() }
        #expect(
            error?.message.contains("below the end of the commit this reader holds") == true,
            "\(String(describing: error))")
    }

    /// A follower whose path was replaced (renamed over, as `import --force` does) or removed
    /// is told so by `refresh()`.
    @Test func followerNoticesItsPathReplaced() throws {
        let directory = try TemporaryDirectory()
        let (path, _, _) = try Self.fixture(directory)
        let reader = try ContainerReader(path: path)
        #expect(try reader.refresh() == false)
        let other = directory.file("other.rowpack")
        try makeInt32PairContainer(
            at: other, batches: [SeededRandom(seed: 3).bytesOf(rows: 2, rowBytes: CorruptionTests.rowBytes)])
        #expect(rename(other, path) == 0)
        expectRowpackError(.replaced) { try reader.refresh() }
        #expect(unlink(path) == 0)
        expectRowpackError(.replaced) { try reader.refresh() }
    }

    // MARK: - Spec vectors

    static let vectors = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Spec/vectors")

    struct Expected: Decodable {
        var sequence: UInt64
        var rows: Int
        /// A golden vector whose first `rows` rows these are, or the rows' bytes in hex.
        var data: String
        var damaged_trailer: Int?
    }

    static func expectations() throws -> [String: Expected] {
        try JSONDecoder().decode(
            [String: Expected].self, from: Data(contentsOf: vectors.appendingPathComponent("search/expected.json")))
    }

    /// `Spec/vectors/search/`: every reader opens the commit `expected.json` names, with its rows,
    /// reports the damaged trailer it names, and reads less than twice the file doing so.
    @Test(arguments: try expectations().keys.sorted())
    func searchVectorOpensTheCommitTheSpecSays(name: String) throws {
        let expected = try #require(try Self.expectations()[name])
        let path = Self.vectors.appendingPathComponent("search/\(name).rowpack").path
        let reader = try ContainerReader(path: path)
        #expect(Self.bytesRead(reader) < 2 * (try fileSize(path)))
        #expect(reader.commit.sequence == expected.sequence)
        #expect(reader.rowCount == expected.rows)
        #expect(
            reader.damagedCommit?.trailerOffset == expected.damaged_trailer,
            "\(String(describing: reader.damagedCommit))")
        let rows = try reader.read(rows: 0..<reader.rowCount)
        if expected.data.hasPrefix("u1_") {
            let golden = try ContainerReader(path: Self.vectors.appendingPathComponent("\(expected.data).rowpack").path)
            #expect(rows == (try golden.read(rows: 0..<expected.rows)))
        } else {
            #expect(rows.map { String(format: "%02x", $0) }.joined() == expected.data)
        }
        #expect(reader.verify().isEmpty)
    }
}
