import Foundation
import RowpackFormat
import Synchronization
import Testing

@testable import Rowpack

/// Damaged bytes are found by checksums and reported as errors that say where, never as a
/// trap or as wrong data: a damaged commit falls back to the one before it, a damaged chunk
/// fails alone and `verify()` names it.
@Suite struct CorruptionTests {
    static let rowBytes = 8
    static let rowsPerChunk = 4

    /// Three commits: 10 rows (chunk 2 partial), 16 rows (chunk 2 rewritten, chunk 3), 19 rows
    /// (chunk 4 partial). Returns the file, the data and the newest commit's structures.
    static func makeFixture(_ directory: TemporaryDirectory) throws -> (
        bytes: [UInt8], data: [UInt8], layout: ParsedCommit
    ) {
        let path = directory.file("pristine.rowpack")
        var random = SeededRandom(seed: 31)
        let batches = [random.bytes(10 * 8), random.bytes(6 * 8), random.bytes(3 * 8)]
        let data = try makeInt32PairContainer(at: path, batches: batches)
        let bytes = try fileBytes(path)
        let layout = try parseCommit(bytes)
        #expect(layout.chunks.count == 5)
        return (bytes, data, layout)
    }

    static func rows(_ data: [UInt8], _ range: Range<Int>) -> [UInt8] {
        Array(data[range.lowerBound * rowBytes..<range.upperBound * rowBytes])
    }

    // MARK: Header

    /// Any byte of the header damaged: opening throws a RowpackError with a message.
    @Test func damagedHeader() throws {
        let directory = try TemporaryDirectory()
        let (bytes, _, layout) = try Self.makeFixture(directory)
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        for offset in 0..<layout.headerLength {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                try xorByte(path, at: offset, mask)
                defer { try? xorByte(path, at: offset, mask) }
                do {
                    _ = try ContainerReader(path: path)
                    Issue.record("header byte \(offset) ^ \(mask): open succeeded")
                } catch let error as RowpackError {
                    #expect(error.code == .corrupt || error.code == .unsupported, "\(error)")
                    #expect(!error.message.isEmpty)
                    #expect(error.path == path)
                }
                do {
                    _ = try ContainerWriter.open(at: path)
                    Issue.record("header byte \(offset) ^ \(mask): open for writing succeeded")
                } catch let error as RowpackError {
                    #expect(error.code == .corrupt || error.code == .unsupported, "\(error)")
                }
                var damaged = bytes
                damaged[offset] ^= mask
                #expect(try fileBytes(path) == damaged, "a failed open must not modify the file")
            }
        }
    }

    /// A newer major version is refused as unsupported, not as corrupt.
    @Test func newerMajorVersionIsUnsupported() throws {
        let directory = try TemporaryDirectory()
        let (bytes, _, _) = try Self.makeFixture(directory)
        let path = directory.file("v2.rowpack")
        var damaged = bytes
        damaged[8] = 2
        try writeFile(path, damaged)
        expectRowpackError(.unsupported) { _ = try ContainerReader(path: path) }
    }

    // MARK: Chunks

    /// A damaged payload byte of chunk `n`: the chunk fails with an error naming it, every
    /// other chunk still reads, and `verify()` lists exactly that chunk.
    @Test(arguments: 0..<5)
    func damagedChunkPayload(chunk: Int) throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, layout) = try Self.makeFixture(directory)
        let extent = layout.chunks[chunk]
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        for offset in [
            extent.offset + ChunkRecord.size, extent.end - 1, (extent.offset + ChunkRecord.size + extent.end) / 2,
        ] {
            try xorByte(path, at: offset, 0x10)
            defer { try? xorByte(path, at: offset, 0x10) }
            try Self.expectOnlyChunkDamaged(chunk, path: path, data: data)
        }
    }

    /// A damaged byte anywhere in chunk `n`'s 48-byte record header.
    @Test(arguments: 0..<5)
    func damagedChunkRecordHeader(chunk: Int) throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, layout) = try Self.makeFixture(directory)
        let extent = layout.chunks[chunk]
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        for offset in extent.offset..<extent.offset + ChunkRecord.size {
            try xorByte(path, at: offset, 0x04)
            defer { try? xorByte(path, at: offset, 0x04) }
            try Self.expectOnlyChunkDamaged(chunk, path: path, data: data, "record byte \(offset - extent.offset)")
        }
    }

    /// A payload that passes its checksum but is not a valid stream of its codec (a hostile
    /// writer, not bit rot) fails in the decoder, naming the chunk.
    @Test(arguments: [ChunkCodec.zstd, .zlib])
    func undecodablePayloadWithValidChecksum(codec: ChunkCodec) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        var random = SeededRandom(seed: 8)
        let data = compressibleRows(40, rowBytes: 8, seed: 4)
        try makeContainer(
            at: path, dtype: .float64, rowShape: [], options: testOptions(rowsPerChunk: 10, codec: codec),
            batches: [data])
        var bytes = try fileBytes(path)
        let layout = try parseCommit(bytes)
        let extent = layout.chunks[2]
        var record = layout.records[2]
        let garbage = random.bytes(record.storedLength)
        record.payloadChecksum = CRC32C.checksum(garbage)
        bytes.replaceSubrange(extent.offset..<extent.end, with: record.encoded() + garbage)
        try writeFile(path, bytes)
        try Self.expectOnlyChunkDamaged(2, path: path, data: data, rowsPerChunk: 10, rows: 40)
    }

    /// Checks that reads touching `chunk` fail naming it, the others succeed, `verify()` lists
    /// only it, and the failure is not cached as data.
    static func expectOnlyChunkDamaged(
        _ chunk: Int, path: String, data: [UInt8], _ comment: String = "", rowsPerChunk: Int = rowsPerChunk,
        rows: Int = 19, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == rows, sourceLocation: sourceLocation)
        let damaged = chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk)
        for _ in 0..<2 {  // twice: a failed decode must not be cached
            let error = expectRowpackError(.corrupt, comment, sourceLocation: sourceLocation) {
                _ = try reader.read(rows: damaged.lowerBound..<damaged.lowerBound + 1)
            }
            #expect(
                error?.chunk == chunk, "\(error.map(String.init(describing:)) ?? "") \(comment)",
                sourceLocation: sourceLocation)
            #expect(error?.offset != nil, sourceLocation: sourceLocation)
        }
        let wholeRange = expectRowpackError(.corrupt, comment, sourceLocation: sourceLocation) {
            _ = try reader.read(rows: 0..<rows)
        }
        #expect(wholeRange?.chunk == chunk, "\(comment)", sourceLocation: sourceLocation)
        let gather = expectRowpackError(.corrupt, comment, sourceLocation: sourceLocation) {
            _ = try reader.gather(rows: [0, damaged.upperBound - 1])
        }
        #expect(gather?.chunk == chunk, "\(comment)", sourceLocation: sourceLocation)
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        let rowBytes = data.count / rows
        for other in 0..<chunks where other != chunk {
            let range = other * rowsPerChunk..<min(rows, (other + 1) * rowsPerChunk)
            #expect(
                try reader.read(rows: range) == Array(data[range.lowerBound * rowBytes..<range.upperBound * rowBytes]),
                "chunk \(other) \(comment)", sourceLocation: sourceLocation)
        }
        let problems = reader.verify()
        #expect(problems.count == 1, "\(problems) \(comment)", sourceLocation: sourceLocation)
        #expect(problems.first?.chunk == chunk, "\(problems) \(comment)", sourceLocation: sourceLocation)
        #expect(problems.first?.code == .corrupt, sourceLocation: sourceLocation)
    }

    // MARK: Index

    /// A damaged byte in the index leaf: the commit still opens (leaves are read lazily), but
    /// every read through the leaf fails with `.corrupt` and `verify()` reports it.
    @Test func damagedIndexLeaf() throws {
        let directory = try TemporaryDirectory()
        let (bytes, _, layout) = try Self.makeFixture(directory)
        let leaf = try #require(layout.leaves.first)
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        for offset in leaf.offset..<leaf.end {
            try xorByte(path, at: offset, 0x20)
            defer { try? xorByte(path, at: offset, 0x20) }
            let reader: ContainerReader
            do { reader = try ContainerReader(path: path) } catch let error as RowpackError {
                #expect(error.code == .corrupt, "\(error)")
                continue
            }
            expectRowpackError(.corrupt, "leaf byte \(offset - leaf.offset)") { _ = try reader.read(rows: 0..<1) }
            expectRowpackError(.corrupt, "leaf byte \(offset - leaf.offset)") { _ = try reader.gather(rows: [18]) }
            #expect(!reader.verify().isEmpty, "leaf byte \(offset - leaf.offset)")
        }
    }

    /// A damaged root: the newest commit is invalid, so readers open the one before it.
    @Test func damagedRootFallsBackToPreviousCommit() throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, layout) = try Self.makeFixture(directory)
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        for offset in layout.root.offset..<layout.root.end {
            try xorByte(path, at: offset, 0x01)
            defer { try? xorByte(path, at: offset, 0x01) }
            try Self.expectPreviousCommit(
                path: path, data: data, layout: layout, "root byte \(offset - layout.root.offset)")
        }
    }

    /// A damaged byte anywhere in the newest trailer: readers open the previous commit. With
    /// both magics intact the trailer is complete, so that is damage, not a torn write: readers
    /// say so, and a writer refuses to cut it (`Spec/FORMAT.md` §7.2). A damaged magic byte
    /// makes it no trailer at all (a torn one), cut silently.
    @Test func damagedTrailerFallsBackToPreviousCommit() throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, layout) = try Self.makeFixture(directory)
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        let trailer = layout.trailerExtent
        var reported = 0
        for offset in trailer.offset..<trailer.end {
            try xorByte(path, at: offset, 0x40)
            defer { try? xorByte(path, at: offset, 0x40) }
            let comment = "trailer byte \(offset - trailer.offset)"
            try Self.expectPreviousCommit(path: path, data: data, layout: layout, comment)
            let inMagic = offset - trailer.offset < 8 || offset - trailer.offset >= 120
            let damage = try ContainerReader(path: path).damagedCommit
            #expect((damage == nil) == inMagic, "\(comment): \(String(describing: damage))")
            guard !inMagic else { continue }
            #expect(damage?.trailerOffset == trailer.offset, "\(comment)")
            reported += 1
            let image = try fileBytes(path)
            let refusal = expectRowpackError(.corrupt, comment) { _ = try ContainerWriter.open(at: path) }
            #expect(
                refusal?.message.contains("keep commit \(layout.trailer.sequence - 1)") == true,
                "\(comment): \(String(describing: refusal))")
            expectRowpackError(.corrupt, comment) { _ = try ContainerWriter.recover(at: path) }
            #expect(try fileBytes(path) == image, "\(comment): refusing must not modify the file")
        }
        #expect(reported == 112)
    }

    static func expectPreviousCommit(
        path: String, data: [UInt8], layout: ParsedCommit, _ comment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let reader: ContainerReader
        do { reader = try ContainerReader(path: path) } catch {
            Issue.record("\(comment): open failed: \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(reader.rowCount == 16, "\(comment)", sourceLocation: sourceLocation)
        #expect(reader.commit.sequence == layout.trailer.sequence - 1, "\(comment)", sourceLocation: sourceLocation)
        #expect(
            reader.commit.committedLength == layout.trailer.previousTrailer + CommitTrailer.size,
            sourceLocation: sourceLocation)
        #expect(try readAll(reader) == rows(data, 0..<16), "\(comment)", sourceLocation: sourceLocation)
        #expect(reader.verify().isEmpty, "\(comment)", sourceLocation: sourceLocation)
    }

    /// Damage to the last two trailers falls back two commits; damage to every trailer leaves
    /// no commit, which is `.corrupt`.
    @Test func damagedTrailersFallBackFurtherOrFail() throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, _) = try Self.makeFixture(directory)
        let history = try parseCommitHistory(bytes)
        #expect(history.map(\.trailer.rows) == [0, 10, 16, 19])
        let path = directory.file("damaged.rowpack")
        try writeFile(path, bytes)
        var damaged = bytes
        for commit in history.reversed() {
            damaged[commit.trailer.offset + 20] ^= 0x08  // the sequence number
            try writeFile(path, damaged)
            if commit.trailer.sequence == 1 {
                expectRowpackError(.corrupt) { _ = try ContainerReader(path: path) }
                expectRowpackError(.corrupt) { _ = try ContainerWriter.open(at: path) }
            } else {
                let previous = history[Int(commit.trailer.sequence) - 2]
                let reader = try ContainerReader(path: path)
                #expect(reader.commit.sequence == previous.trailer.sequence)
                #expect(try readAll(reader) == Self.rows(data, 0..<previous.trailer.rows))
            }
        }
    }

    /// A hostile index (every checksum valid) that lists one chunk's record for two chunks.
    @Test func indexListingOneRecordForTwoChunks() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        var random = SeededRandom(seed: 12)
        let data = random.bytes(8 * Self.rowBytes)
        try makeInt32PairContainer(at: path, batches: [data])
        let before = try parseCommit(try fileBytes(path))
        #expect(before.chunks.count == 2)
        // A new commit whose leaf lists chunk 0's record for chunks 0 and 1.
        let end = before.trailer.committedLength
        let leaf = IndexPage(kind: .leaf, first: 0, entries: [before.chunks[0], before.chunks[0]]).encoded()
        let leafExtent = Extent(offset: end, length: leaf.count)
        let root = IndexPage(kind: .root, first: 0, entries: [leafExtent]).encoded()
        let rootExtent = Extent(offset: leafExtent.end, length: root.count)
        let trailer = CommitTrailer(
            sequence: before.trailer.sequence + 1, rows: 8, chunks: 2, root: rootExtent,
            rootChecksum: rootChecksum(root),
            previousTrailer: before.trailer.offset, committedLength: rootExtent.end + CommitTrailer.size, deadBytes: 0,
            uuid: before.header.uuid, timeNanoseconds: 0)
        try writeAt(path, offset: end, leaf + root + trailer.encoded())

        // Such a leaf is refused as a whole (entries must be increasing and disjoint, §5.1):
        // every read through it fails, naming the chunk it was read for — never another
        // chunk's rows.
        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 8)
        let first = expectRowpackError(.corrupt, "chunk 1") { _ = try reader.read(rows: 4..<5) }
        #expect(first?.chunk == 1)
        let second = expectRowpackError(.corrupt, "chunk 0") { _ = try reader.read(rows: 0..<4) }
        #expect(second?.chunk == 0)
        let third = expectRowpackError(.corrupt, "gather") { _ = try reader.gather(rows: [5]) }
        #expect(third?.chunk == 1)
        #expect(reader.verify().count == 1)
    }

    /// Leaves 0 and 2 of a hostile index (K = 1, checksums valid) list chunk 0's record; leaf
    /// 1, between them, is never read, so no cross-leaf check can see it. Many threads miss
    /// chunks 0 and 2 at once, forced deterministically: the first load of chunk 0 is held
    /// until every thread has looked the cache up. Every read of chunk 2 fails naming chunk 2;
    /// none receives chunk 0's rows from the shared load.
    @Test func concurrentMissesOfOneRecordListedForTwoChunks() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("shared.rowpack")
        let header = try FileHeader(
            uuid: [UInt8](repeating: 0x5A, count: 16), dtype: .uint8, rowShape: [2], rowsPerChunk: 2, codec: .none,
            level: 0,
            filter: .none, leafCapacity: 1)
        let chunk0: [UInt8] = [1, 2, 3, 4]
        let chunk1: [UInt8] = [5, 6, 7, 8]
        let records = [chunk0, chunk1].enumerated().map {
            handBuiltRecord(chunk: $0, rows: 2, rawLength: 4, payload: $1)
        }
        try writeFile(path, handBuiltContainer(header: header, rows: 6, records: records, listing: [0, 1, 0]))

        let threads = 12
        let holdFirstLoad = Counter()
        let lookups = LookupCount()
        let cache = RowCache(capacity: 1 << 20) { key in
            // The first load waits (up to a deadline, so a bug fails rather than hangs) until
            // all threads have looked up their chunk: each waits for a load or runs one.
            guard key.chunk == 0, holdFirstLoad.add() == 1 else { return }
            lookups.wait(until: threads)
        }
        lookups.cache = cache
        let reader = try ContainerReader(path: path, cache: cache)
        #expect(reader.rowCount == 6)
        let failures = FailureLog()
        onThreads(threads) { thread in
            if thread > 0 { lookups.wait(until: 1) }  // thread 0 reading chunk 0 misses first
            let chunk = thread % 2 == 0 ? 0 : 2
            do {
                let row = try reader.withRow(chunk * 2 + 1) { Array($0) }
                if chunk == 2 { failures.record("thread \(thread): chunk 2 returned \(row)") }
                if chunk == 0, row != [3, 4] { failures.record("thread \(thread): chunk 0 returned \(row)") }
            } catch let error as RowpackError {
                if error.chunk != chunk || error.code != .corrupt {
                    failures.record("thread \(thread), chunk \(chunk): \(error)")
                }
            } catch {
                failures.record("thread \(thread): \(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(
            cache.statistics.hits + cache.statistics.misses == threads,
            "every thread looked up while the first load was held")
        let problem = expectRowpackError(.corrupt) { _ = try reader.read(rows: 4..<6) }
        #expect(problem?.chunk == 2)
        #expect(try reader.read(rows: 0..<2) == chunk0)
        // Chunk 1's own record is sound, but leaf 1, read now, is checked against leaf 2
        // (cached), which lists a record before leaf 1's.
        let overlap = expectRowpackError(.corrupt) { _ = try reader.read(rows: 2..<4) }
        #expect(overlap?.chunk == 1)
        #expect(overlap?.message.contains("index leaf 2 lists a record") == true)
        #expect(try ContainerReader(path: path).read(rows: 2..<4) == chunk1, "alone, chunk 1 reads back")
    }

    /// Appends to `path` a commit of `rows` rows whose root lists `leaves` (checksums valid),
    /// after the commit `before`; returns the extent of `leaf` when given, written first.
    @discardableResult
    static func appendHostileCommit(
        to path: String, after before: ParsedCommit, rows: Int, leaves: [Extent], leaf: [Extent]? = nil
    ) throws -> Extent? {
        var bytes: [UInt8] = []
        var end = before.trailer.committedLength
        var roots = leaves
        var written: Extent?
        if let leaf {
            let page = IndexPage(kind: .leaf, first: 0, entries: leaf).encoded()
            written = Extent(offset: end, length: page.count)
            roots.append(written!)
            bytes += page
            end += page.count
        }
        let root = IndexPage(kind: .root, first: 0, entries: roots).encoded()
        let rootExtent = Extent(offset: end, length: root.count)
        let trailer = CommitTrailer(
            sequence: before.trailer.sequence + 1, rows: rows, chunks: (rows + rowsPerChunk - 1) / rowsPerChunk,
            root: rootExtent,
            rootChecksum: rootChecksum(root), previousTrailer: before.trailer.offset,
            committedLength: rootExtent.end + CommitTrailer.size, deadBytes: 0, uuid: before.header.uuid,
            timeNanoseconds: 0)
        try writeAt(path, offset: before.trailer.committedLength, bytes + root + trailer.encoded())
        return written
    }

    /// A reader that refreshes to a hostile commit reusing structures it has cached — a leaf of
    /// 3 entries listed for 5 chunks, a 2-row record listed for a chunk of 4 rows — checks them
    /// against the new commit like a fresh read (caches are keyed by everything a load checks):
    /// an error naming the chunk, never a trap or rows from outside the chunk.
    @Test func refreshToACommitReusingCachedStructures() throws {
        let directory = try TemporaryDirectory()
        var random = SeededRandom(seed: 40)
        // A leaf cached for 3 chunks, listed again (same extent) for 5.
        let leafPath = directory.file("leaf.rowpack")
        let data = try makeInt32PairContainer(at: leafPath, batches: [random.bytes(12 * Self.rowBytes)])
        let first = try parseCommit(try fileBytes(leafPath))
        let reader = try ContainerReader(path: leafPath)
        #expect(try reader.read(rows: 0..<1) == Self.rows(data, 0..<1))
        try Self.appendHostileCommit(to: leafPath, after: first, rows: 20, leaves: first.leaves)
        #expect(try reader.refresh())
        let leafError = expectRowpackError(.corrupt, "leaf listed for more chunks") {
            _ = try reader.read(rows: 17..<18)
        }
        #expect(leafError?.chunk == 4)
        expectRowpackError(.corrupt, "the same leaf, through the cache") { _ = try reader.read(rows: 1..<2) }

        // A 2-row tail record cached, then listed for a chunk of 4 rows.
        let chunkPath = directory.file("chunk.rowpack")
        let tail = try makeInt32PairContainer(at: chunkPath, batches: [random.bytes(10 * Self.rowBytes)])
        let partial = try parseCommit(try fileBytes(chunkPath))
        let tailReader = try ContainerReader(path: chunkPath)
        #expect(try tailReader.read(rows: 8..<10) == Self.rows(tail, 8..<10))
        try Self.appendHostileCommit(to: chunkPath, after: partial, rows: 12, leaves: [], leaf: partial.chunks)
        #expect(try tailReader.refresh())
        for rows in [11..<12, 8..<12, 9..<10] {
            let error = expectRowpackError(.corrupt, "rows \(rows)") { _ = try tailReader.read(rows: rows) }
            #expect(error?.chunk == 2)
            let single = expectRowpackError(.corrupt, "row \(rows.lowerBound)") {
                try tailReader.withRow(rows.lowerBound) { _ in }
            }
            #expect(single?.chunk == 2)
        }
        #expect(try tailReader.read(rows: 0..<8) == Self.rows(tail, 0..<8))
    }

    /// The lookups (hits, misses and waits for a load in flight) a cache has answered, for
    /// threads to wait on.
    final class LookupCount: Sendable {
        private let source = Mutex<RowCache?>(nil)
        var cache: RowCache? {
            get { source.withLock { $0 } }
            set { source.withLock { $0 = newValue } }
        }

        /// Returns once `count` lookups were answered, or after 20 s (so a bug fails, not hangs).
        func wait(until count: Int) {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if let statistics = cache?.statistics, statistics.hits + statistics.misses >= count { return }
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
    }

    /// Neighbouring leaves listing one record (K = 1): whichever leaf is read second is checked
    /// against the first (records are in chunk order across leaves, §5.3), and `verify()`
    /// checks every pair.
    @Test func neighbouringLeavesListingOneRecord() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("neighbours.rowpack")
        let header = try FileHeader(
            uuid: [UInt8](repeating: 0x5A, count: 16), dtype: .uint8, rowShape: [2], rowsPerChunk: 2, codec: .none,
            level: 0,
            filter: .none, leafCapacity: 1)
        let record = handBuiltRecord(chunk: 0, rows: 2, rawLength: 4, payload: [1, 2, 3, 4])
        try writeFile(path, handBuiltContainer(header: header, rows: 4, records: [record], listing: [0, 0]))
        for order in [[0, 1], [1, 0]] {
            let reader = try ContainerReader(path: path)
            let first = order[0]
            if first == 0 {
                #expect(try reader.read(rows: 0..<2) == [1, 2, 3, 4])
            } else {
                expectRowpackError(.corrupt) { _ = try reader.read(rows: 2..<4) }
            }
            let second = expectRowpackError(.corrupt, "leaf \(order[1]) read after leaf \(first)") {
                _ = try reader.read(rows: order[1] * 2..<order[1] * 2 + 2)
            }
            #expect(second?.chunk == order[1])
            #expect(
                second?.message.contains("inside or before the last record of leaf 0") == true,
                "\(String(describing: second))")
        }
        let problems = try ContainerReader(path: path).verify()
        #expect(
            problems.contains { $0.message.contains("index leaf 1 lists a record") && $0.chunk == 1 }, "\(problems)")
    }

    // MARK: Not containers

    /// Empty, short, random and adversarial files are refused as `.corrupt`, never a trap.
    @Test func garbageFilesAreCorrupt() throws {
        let directory = try TemporaryDirectory()
        let (bytes, _, layout) = try Self.makeFixture(directory)
        let path = directory.file("garbage.rowpack")
        var random = SeededRandom(seed: 1)
        var cases: [(String, [UInt8])] = [
            ("empty", []),
            ("one byte", [0x89]),
            ("15 bytes of magic", Array(bytes[0..<15])),
            ("header only", Array(bytes[0..<layout.headerLength])),
            ("header and garbage", Array(bytes[0..<layout.headerLength]) + random.bytes(5000)),
            (
                "header and end magics",
                Array(bytes[0..<layout.headerLength])
                    + Array(repeating: CommitTrailer.endMagic, count: 100).flatMap { $0 }
            ),
            ("header and zeros", Array(bytes[0..<layout.headerLength]) + [UInt8](repeating: 0, count: 3000)),
            ("end magics", Array(repeating: CommitTrailer.endMagic, count: 100).flatMap { $0 }),
            (
                "trailer magics",
                Array(
                    repeating: CommitTrailer.beginMagic + [UInt8](repeating: 0, count: 112) + CommitTrailer.endMagic,
                    count: 3
                ).flatMap { $0 }
            ),
            ("npy file", Array("\u{93}NUMPY".utf8) + [1, 0, 118, 0] + [UInt8](repeating: 0x20, count: 200)),
            (
                "header claims a huge length",
                Array(bytes[0..<12]) + [0xF8, 0xFF, 0xFF, 0x7F] + Array(bytes[16..<layout.headerLength])
            ),
        ]
        for length in [2, 8, 16, 17, 100, 127, 128, 129, 4096, 1 << 20] {
            cases.append(("random \(length)", random.bytes(length)))
        }
        for (name, content) in cases {
            try writeFile(path, content)
            expectRowpackError(.corrupt, name) { _ = try ContainerReader(path: path) }
            expectRowpackError(.corrupt, name) { _ = try ContainerWriter.open(at: path) }
        }
        expectRowpackError(.io) { _ = try ContainerReader(path: directory.file("missing.rowpack")) }
        #expect(throws: RowpackError.self, "a directory is not a container") {
            _ = try ContainerReader(path: directory.path)
        }
    }

    /// A trailer from another container (different UUID) appended to a container is not taken
    /// for one of its commits.
    @Test func foreignTrailerIsIgnored() throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, _) = try Self.makeFixture(directory)
        let other = directory.file("other.rowpack")
        try makeInt32PairContainer(at: other, batches: [Array(data[0..<24])])
        let otherBytes = try fileBytes(other)
        let path = directory.file("mixed.rowpack")
        try writeFile(path, bytes + otherBytes.suffix(CommitTrailer.size))
        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 19)
        #expect(try readAll(reader) == data)
    }
}

/// The corruption tests' container: `'<i4'` × 2 per row, 4 rows per chunk, one commit per batch.
@discardableResult
func makeInt32PairContainer(at path: String, batches: [[UInt8]]) throws -> [UInt8] {
    try makeContainer(at: path, dtype: .int32, rowShape: [2], options: testOptions(rowsPerChunk: 4), batches: batches)
}
