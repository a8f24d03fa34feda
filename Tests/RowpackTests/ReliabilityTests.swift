import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

#if canImport(Glibc)
    import Glibc
#endif

/// "Prove it loses nothing": crashes that persisted some of a commit's writes and not others
/// (what `fast` and `none` durability allow after a power loss), several damaged chunks at
/// once, hostile sizes that must be refused before allocating, and the resource faults that
/// need no other process (read-only opening, a second writer in another process).
///
/// Complements CrashSafetyTests (truncation at every byte: writes that land in order) and
/// CorruptionTests (one damaged structure at a time). See Tests/RELIABILITY.md.
@Suite struct ReliabilityTests {
    // MARK: - Torn and reordered writes

    /// Commits: 10 rows (chunk 2 partial), then 7 more (chunk 2 rewritten, chunk 3, chunk 4
    /// partial). The last commit writes three records, the leaf, the root and the trailer.
    static func smallHistory(_ directory: TemporaryDirectory) throws -> (bytes: [UInt8], data: [UInt8]) {
        var random = SeededRandom(seed: 4242)
        let data = try makeContainer(
            at: directory.file("truth.rowpack"), dtype: .int32, rowShape: [2], options: testOptions(rowsPerChunk: 4),
            batches: [random.bytes(10 * 8), random.bytes(7 * 8)])
        return (try fileBytes(directory.file("truth.rowpack")), data)
    }

    /// Every subset of the last commit's six writes landed, the rest lost as zeros, a hole,
    /// garbage or torn in half: 64 files per kind of loss. The reader opens the new commit
    /// exactly when its trailer and root landed, else the previous one; a chunk whose record
    /// did not land fails naming that chunk; no read ever returns wrong rows.
    @Test(arguments: LostWrite.allCases)
    func everySubsetOfTheLastCommitsWrites(loss: LostWrite) throws {
        let directory = try TemporaryDirectory()
        let (truth, data) = try Self.smallHistory(directory)
        let (previous, newest, writes) = try newestCommitWrites(truth)
        #expect(
            writes.map(\.kind) == [
                .record(chunk: 2), .record(chunk: 3), .record(chunk: 4), .leaf(index: 0), .root, .trailer,
            ])
        let path = directory.file("crash.rowpack")
        var fellBack = 0
        var reported = 0
        var damaged = 0
        for (n, landed) in allSubsets(of: writes.count).enumerated() {
            let image = try writeCrashImage(
                path, truth: truth, writes: writes, landed: landed, loss: loss, seed: UInt64(n))
            let comment = "\(loss), landed: \(landed.sorted().map { writes[$0].description })"
            switch try expectCrashImageSafe(
                path: path, truth: truth, image: image, previous: previous, newest: newest, data: data, comment)
            {
            case .previous: fellBack += 1
            case .damagedNewest:
                fellBack += 1
                reported += 1
            case .newest(let chunks, let leaves): damaged += chunks.isEmpty && leaves.isEmpty ? 0 : 1
            case nil: break
            }
        }
        // Without the trailer or the root (48 of 64 subsets) the previous commit is what there is;
        // when the trailer landed whole without its root (16 of them), the newest is reported damaged.
        #expect(reported == 16)
        #expect(fellBack == 48)
        // With both, every other subset (15 of 16) leaves at least one chunk or the leaf damaged.
        #expect(damaged == 15)
    }

    /// `durable` mode syncs every record, leaf and root before writing the trailer, so after a
    /// power loss the trailer can only have landed if everything before it did. Every such
    /// image verifies clean at the previous or the new commit: nothing to detect, nothing lost.
    @Test func durableModeImagesAlwaysVerify() throws {
        let directory = try TemporaryDirectory()
        let (truth, data) = try Self.smallHistory(directory)
        let (previous, newest, writes) = try newestCommitWrites(truth)
        let trailer = writes.count - 1
        let path = directory.file("crash.rowpack")
        var images = 0
        for loss in LostWrite.allCases {
            for landed in allSubsets(of: writes.count) where !landed.contains(trailer) || landed.count == writes.count {
                let image = try writeCrashImage(path, truth: truth, writes: writes, landed: landed, loss: loss, seed: 1)
                let outcome = try expectCrashImageSafe(
                    path: path, truth: truth, image: image, previous: previous, newest: newest, data: data,
                    "durable, \(loss), landed \(landed.sorted())")
                #expect(outcome == .previous || outcome == .newest(damagedChunks: [], damagedLeaves: []))
                images += 1
            }
        }
        #expect(images == 4 * 33)
    }

    /// A container whose header says 4 chunks per leaf (readers and writers use the stored
    /// capacity): 25 rows of 2 per chunk, the last commit rewriting leaf 2 and adding leaf 3.
    /// Every subset of its nine writes landed (512 images): losing a leaf or a record damages
    /// only the chunks under it; the chunks of leaves 0 and 1 always read.
    @Test func lostWritesAcrossSeveralLeaves() throws {
        let directory = try TemporaryDirectory()
        let truthPath = directory.file("truth.rowpack")
        let header = try FileHeader(
            uuid: [UInt8](repeating: 0x11, count: 16), dtype: .int16, rowShape: [3], rowsPerChunk: 2, codec: .zstd,
            level: 1,
            filter: .shuffle, leafCapacity: 4)
        try writeFile(truthPath, handBuiltContainer(header: header, rows: 0, records: []))
        var random = SeededRandom(seed: 99)
        var data: [UInt8] = []
        for rows in [17, 8] {
            let writer = try ContainerWriter.open(at: truthPath, options: WriterOptions(durability: .none))
            let batch = random.bytes(rows * 6)
            try writer.append(rawRows: batch)
            try writer.close()
            data += batch
        }
        let truth = try fileBytes(truthPath)
        let (previous, newest, writes) = try newestCommitWrites(truth)
        #expect(newest.leaves.count == 4)
        #expect(
            writes.map(\.kind) == (8...12).map { CommitWrite.Kind.record(chunk: $0) } + [
                .leaf(index: 2), .leaf(index: 3), .root, .trailer,
            ])
        let path = directory.file("crash.rowpack")
        var damagedImages = 0
        for (n, landed) in allSubsets(of: writes.count).enumerated() {
            let image = try writeCrashImage(
                path, truth: truth, writes: writes, landed: landed, loss: n % 2 == 0 ? .zeros : .garbage,
                seed: UInt64(n))
            let outcome = try expectCrashImageSafe(
                path: path, truth: truth, image: image, previous: previous, newest: newest, data: data,
                "landed \(landed.sorted())")
            if case .newest(let chunks, let leaves) = outcome, !(chunks.isEmpty && leaves.isEmpty) {
                #expect(chunks.allSatisfy { $0 >= 8 } && leaves.allSatisfy { $0 >= 2 })
                damagedImages += 1
            }
        }
        #expect(damagedImages == 127)
    }

    /// A larger commit (40 chunks) whose 512-byte sectors reached the disk at random: 240
    /// images, lost sectors zeroed or random. Whatever landed, the reader opens the newest
    /// commit whose trailer and root are intact, reads exactly the chunks whose bytes are all
    /// there, and names every other one.
    @Test func randomSectorsOfALargeCommitLanded() throws {
        let directory = try TemporaryDirectory()
        let truthPath = directory.file("truth.rowpack")
        let rowBytes = 8
        let data = try makeContainer(
            at: truthPath, dtype: .float64, rowShape: [], options: testOptions(rowsPerChunk: 64),
            batches: [
                compressibleRows(100, rowBytes: rowBytes, seed: 1), compressibleRows(2500, rowBytes: rowBytes, seed: 2),
            ])
        let truth = try fileBytes(truthPath)
        let (previous, newest, writes) = try newestCommitWrites(truth)
        #expect(newest.chunks.count == 41)
        let start = try #require(writes.first).extent.offset
        let sector = 512
        let path = directory.file("crash.rowpack")
        var random = SeededRandom(seed: 2026)
        var outcomes: [String: Int] = [:]
        for trial in 0..<240 {
            let keep = [0.05, 0.5, 0.9, 0.99][trial % 4]
            var image = truth
            for sectorStart in stride(from: start - start % sector, to: truth.count, by: sector) {
                guard Double(random.next() % 10_000) / 10_000 >= keep else { continue }
                let range = max(start, sectorStart)..<min(truth.count, sectorStart + sector)
                image.replaceSubrange(
                    range, with: trial % 2 == 0 ? [UInt8](repeating: 0, count: range.count) : random.bytes(range.count))
            }
            try writeFile(path, image)
            let outcome = try expectCrashImageSafe(
                path: path, truth: truth, image: image, previous: previous, newest: newest, data: data, "trial \(trial)"
            )
            switch outcome {
            case .previous: outcomes["previous", default: 0] += 1
            case .damagedNewest: outcomes["previous, newest reported damaged", default: 0] += 1
            case .newest(let chunks, let leaves) where chunks.isEmpty && leaves.isEmpty:
                outcomes["newest intact", default: 0] += 1
            case .newest: outcomes["newest, damage detected", default: 0] += 1
            case nil: break
            }
        }
        #expect(outcomes.values.reduce(0, +) == 240)
        #expect(
            outcomes["previous", default: 0] + outcomes["previous, newest reported damaged", default: 0] > 0
                && outcomes["newest, damage detected", default: 0] > 0, "\(outcomes)")
    }

    // MARK: - Several damaged chunks at once

    /// Every combination of damaged chunks of a five-chunk container: `verify()` lists each
    /// damaged chunk once and no other, and every other chunk still reads.
    @Test func verifyListsEveryDamagedChunk() throws {
        let directory = try TemporaryDirectory()
        let (bytes, data, layout) = try CorruptionTests.makeFixture(directory)
        let path = directory.file("damaged.rowpack")
        for damaged in allSubsets(of: layout.chunks.count) where !damaged.isEmpty {
            var image = bytes
            for chunk in damaged {
                let extent = layout.chunks[chunk]
                image[(extent.offset + ChunkRecord.size + extent.end) / 2] ^= 0x40
            }
            try writeFile(path, image)
            let reader = try ContainerReader(path: path)
            let problems = reader.verify()
            #expect(problems.compactMap(\.chunk).sorted() == damaged.sorted(), "\(problems)")
            #expect(problems.count == damaged.count)
            #expect(problems.allSatisfy { $0.code == .corrupt && $0.offset != nil && $0.path == path })
            for chunk in 0..<layout.chunks.count {
                let range = chunk * 4..<min(19, chunk * 4 + 4)
                if damaged.contains(chunk) {
                    let error = expectRowpackError(.corrupt) { _ = try reader.read(rows: range) }
                    #expect(error?.chunk == chunk)
                } else {
                    #expect(try reader.read(rows: range) == Array(data[range.lowerBound * 8..<range.upperBound * 8]))
                }
            }
        }
    }

    /// A damaged leaf and a damaged chunk under another leaf: both are reported, and the chunks
    /// of the damaged leaf fail naming themselves.
    @Test func verifyReportsADamagedLeafAndAChunkElsewhere() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.rowpack")
        var random = SeededRandom(seed: 3)
        let data = try makeContainer(
            at: path, dtype: .uint8, rowShape: [], options: testOptions(rowsPerChunk: 1, codec: .none),
            batches: [random.bytes(4100)])
        let layout = try parseCommit(try fileBytes(path))
        try xorByte(path, at: layout.leaves[0].offset + 40, 0x01)
        try xorByte(path, at: layout.chunks[4098].end - 1, 0x01)
        let reader = try ContainerReader(path: path)
        let problems = reader.verify()
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.compactMap(\.chunk) == [4098], "\(problems)")
        #expect(
            problems.contains {
                $0.chunk == nil && ($0.offset.map { layout.leaves[0].offset..<layout.leaves[0].end ~= $0 } ?? false)
            },
            "\(problems)")
        let error = expectRowpackError(.corrupt) { _ = try reader.read(rows: 17..<18) }
        #expect(error?.chunk == 17)
        #expect(try reader.read(rows: 4096..<4098) == Array(data[4096..<4098]))
    }

    // MARK: - Hostile sizes

    /// Files claiming huge sizes are refused before anything of that size is allocated. Runs
    /// in a child process whose address space is capped at its current size + 512 MiB, so an
    /// allocation of a claimed size would crash it instead of passing unnoticed.
    @Test func hugeClaimsAreRefusedBeforeAllocating() async {
        await #expect(processExitsWith: .success) {
            let directory = try TemporaryDirectory()
            let cases = try ReliabilityTests.hostileFiles()
            limitAddressSpace(headroom: 512 << 20)
            for (name, bytes, expectation) in cases {
                let path = directory.file("\(name).rowpack")
                try writeFile(path, bytes)
                try ReliabilityTests.expectRefused(path: path, name: name, expectation)
            }
        }
    }

    enum Refusal {
        /// Opening fails `.corrupt`.
        case open
        /// The file opens; reading and verifying chunk 0 fail `.corrupt` naming it.
        case chunkZero
    }

    static func expectRefused(path: String, name: String, _ refusal: Refusal) throws {
        switch refusal {
        case .open:
            expectRowpackError(.corrupt, name) { _ = try ContainerReader(path: path) }
        case .chunkZero:
            let reader = try ContainerReader(path: path, cacheBytes: 0)
            let error = expectRowpackError(.corrupt, name) { _ = try reader.read(rows: 0..<1) }
            #expect(error?.chunk == 0, "\(name): \(String(describing: error))")
            let problems = reader.verify()
            #expect(problems.count == 1 && problems.first?.chunk == 0, "\(name): \(problems)")
        }
    }

    /// Small files that claim huge sizes the format can refuse outright.
    static func hostileFiles() throws -> [(String, [UInt8], Refusal)] {
        var cases: [(String, [UInt8], Refusal)] = []
        let header = try handBuiltHeader(dtype: .int64, rowShape: [], rowsPerChunk: 4)
        let valid = handBuiltContainer(
            header: header, rows: 4,
            records: [handBuiltRecord(chunk: 0, rows: 4, rawLength: 32, payload: [UInt8](repeating: 7, count: 32))])
        let headerBytes = header.encoded()
        let h = headerBytes.count

        // A header claiming 2^40 bytes (beyond every limit), and one claiming the largest
        // valid length in a 200-byte file.
        var huge = valid
        huge.replaceSubrange(12..<16, with: [0, 0, 0, 0])
        huge.replaceSubrange(12..<16, with: [0xF8, 0xFF, 0xFF, 0xFF])
        cases.append(("header-claims-4GiB", Array(huge.prefix(64)), .open))
        var largest = Array(valid.prefix(200))
        let limit = UInt32(FormatLimits.maxHeaderBytes / 8 * 8)
        for i in 0..<4 { largest[12 + i] = UInt8(truncatingIfNeeded: limit >> (8 * i)) }
        cases.append(("header-claims-max-length", largest, .open))

        // A trailer whose root would list 2^31 leaves (32 GiB of root in a 300-byte file).
        func trailer(rows: Int, chunks: Int, root: Extent, at offset: Int, rootCRC: UInt32 = 0) -> [UInt8] {
            CommitTrailer(
                sequence: 1, rows: rows, chunks: chunks, root: root, rootChecksum: rootCRC, previousTrailer: 0,
                committedLength: offset + CommitTrailer.size, deadBytes: 0, uuid: header.uuid, timeNanoseconds: 0
            ).encoded()
        }
        let leaves = 1 << 31
        let chunks = leaves * header.leafCapacity
        cases.append(
            (
                "root-of-2^31-leaves",
                headerBytes
                    + trailer(
                        rows: chunks * 4, chunks: chunks,
                        root: Extent(offset: h, length: IndexPage.length(entries: leaves)), at: h),
                .open
            ))

        // A root page of the right length for one leaf whose count field says 2^31 entries.
        var root = IndexPage(kind: .root, first: 0, entries: [Extent(offset: h, length: 52)]).encoded()
        root[4..<8] = [0, 0, 0, 0x80]
        root = resealedPage(root)
        cases.append(
            (
                "root-count-2^31",
                headerBytes + [UInt8](repeating: 0, count: 52) + root
                    + trailer(
                        rows: 4, chunks: 1, root: Extent(offset: h + 52, length: root.count), at: h + 52 + root.count,
                        rootCRC: rootChecksum(root)),
                .open
            ))

        // A root whose leaf extent claims 2^40 bytes.
        let bigLeaf = IndexPage(kind: .root, first: 0, entries: [Extent(offset: h, length: 1 << 40)]).encoded()
        cases.append(
            (
                "leaf-of-1TiB",
                headerBytes + bigLeaf
                    + trailer(
                        rows: 4, chunks: 1, root: Extent(offset: h, length: bigLeaf.count), at: h + bigLeaf.count,
                        rootCRC: rootChecksum(bigLeaf)),
                .open
            ))

        // rows × rowBytes beyond 2^63.
        let emptyRoot = IndexPage(kind: .root, first: 0, entries: []).encoded()
        cases.append(
            (
                "rows-2^62-of-8-bytes",
                headerBytes + emptyRoot
                    + trailer(
                        rows: 1 << 62, chunks: 1 << 60, root: Extent(offset: h, length: emptyRoot.count),
                        at: h + emptyRoot.count, rootCRC: rootChecksum(emptyRoot)),
                .open
            ))

        // A chunk record claiming 2 GiB raw from a 100-byte payload, in an index whose chunk
        // holds 4 rows of 8 bytes: refused at the indexed size, never decompressed.
        let bombRecord = handBuiltRecord(
            chunk: 0, rows: 4, rawLength: 1 << 31, payload: [UInt8](repeating: 0xAB, count: 100), codec: .zstd)
        cases.append(
            ("record-claims-2GiB", handBuiltContainer(header: header, rows: 4, records: [bombRecord]), .chunkZero))

        // Decompression bombs whose record agrees with the index (32 KiB): the payloads expand
        // to 16 MiB, but decoding stops at the indexed size.
        let bombHeader = try handBuiltHeader(dtype: .uint8, rowShape: [1024], rowsPerChunk: 32, codec: .zstd)
        for codec in [ChunkCodec.zstd, .zlib] {
            let encoding = ChunkEncoding(codec: codec, level: codec.defaultLevel, filter: .none, elementSize: 1)
            let zeros = [UInt8](repeating: 0, count: 16 << 20)
            let payload = zeros.withUnsafeBytes { encoding.encode($0, chunk: 0, rows: 32).payload }
            #expect(payload.count < 20_000)
            cases.append(
                (
                    "\(codec)-bomb-16MiB-in-32KiB-chunk",
                    handBuiltContainer(
                        header: bombHeader, rows: 32,
                        records: [
                            handBuiltRecord(chunk: 0, rows: 32, rawLength: 32 << 10, payload: payload, codec: codec)
                        ]),
                    .chunkZero
                ))
        }
        return cases
    }

    /// Payloads of at most 100 bytes that a record says decode to one 2 GiB chunk: garbage
    /// (not a zstd frame), a real zstd frame of 1,000 zeros that does not declare its content
    /// size, and a real zlib stream of 1,000 zeros.
    static let tinyPayloads: [String: (ChunkCodec, [UInt8])] = [
        "zstd-garbage": (.zstd, [UInt8](repeating: 0xAB, count: 100)),
        "zstd-frame-without-content-size": (
            .zstd,
            [
                0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00, 0x4D, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0xE3, 0x2B, 0x80,
                0x05,
            ]
        ),
        "zlib": (
            .zlib,
            [0x78, 0x9C, 0x63, 0x60, 0x18, 0x05, 0xA3, 0x60, 0x14, 0x0C, 0x77, 0x00, 0x00, 0x03, 0xE8, 0x00, 0x01]
        ),
    ]

    /// A file of a few hundred bytes whose header, index and record consistently claim one
    /// chunk of 2^31 one-byte rows, with a tiny payload (which cannot hold 2 GiB: a zstd
    /// block holds at most 128 KiB and costs at least 4 bytes, so 2 GiB needs 64 KiB of
    /// payload; deflate expands at most 1032:1). Reading a row, or verifying, must refuse it
    /// without allocating 2 GiB: the child's address space is capped at +1 GiB, so such an
    /// allocation crashes it.
    ///
    /// Found failing with the garbage payload (2 GiB allocated before the payload was looked
    /// at, and zero-filled when decoding failed: 2 GiB RSS). Since 3bc609b the zstd framing
    /// check (`ChunkRecord.check(payload:)`) refuses it first. STILL FAILING: a zstd frame that
    /// does not declare its content size, and a zlib stream, pass every check, so the 2 GiB
    /// output is allocated (`ContainerReader.decodedChunk` → `filled(count:)`, and `verify`)
    /// before decoding stops at 1,000 bytes: untouched, so RSS stays small, but it fails under
    /// an address-space limit or strict overcommit, where Swift traps.
    @Test(arguments: ["zstd-garbage", "zstd-frame-without-content-size", "zlib"])
    func chunkClaiming2GiBFromATinyPayloadIsRefusedWithoutAllocatingIt(payload name: String) async {
        await #expect(processExitsWith: .success) { [name] in
            let directory = try TemporaryDirectory()
            let path = directory.file("bomb.rowpack")
            let (codec, payload) = try #require(ReliabilityTests.tinyPayloads[name])
            let header = try handBuiltHeader(dtype: .uint8, rowShape: [], rowsPerChunk: 1 << 31, codec: codec)
            let record = handBuiltRecord(chunk: 0, rows: 1 << 31, rawLength: 1 << 31, payload: payload, codec: codec)
            let bytes = handBuiltContainer(header: header, rows: 1 << 31, records: [record])
            #expect(bytes.count < 512)
            try writeFile(path, bytes)
            limitAddressSpace(headroom: 1 << 30)
            let reader = try ContainerReader(path: path, cacheBytes: 0)
            #expect(reader.rowCount == 1 << 31)
            let error = expectRowpackError(.corrupt) { _ = try reader.read(rows: 0..<1) }
            #expect(error?.chunk == 0)
            #expect(reader.verify().count == 1)
        }
    }

    /// A container with no rows whose header says chunks of 2^31 one-byte rows: verifying it
    /// must not allocate a 2 GiB chunk buffer (there is nothing to decode).
    ///
    /// Found failing (`verify` allocated and zero-filled `rowsPerChunk × rowBytes` up front);
    /// passes since 3bc609b ("verify allocates lazily").
    @Test func verifyingAnEmptyContainerWith2GiBChunksAllocatesNoChunk() async {
        await #expect(processExitsWith: .success) {
            let directory = try TemporaryDirectory()
            let path = directory.file("empty.rowpack")
            let header = try handBuiltHeader(dtype: .uint8, rowShape: [], rowsPerChunk: 1 << 31)
            try writeFile(path, handBuiltContainer(header: header, rows: 0, records: []))
            limitAddressSpace(headroom: 1 << 30)
            let reader = try ContainerReader(path: path, cacheBytes: 0)
            #expect(reader.verify().isEmpty)
        }
    }

    // MARK: - Resource faults

    /// Readers open the file read-only (O_RDONLY): they work on a file nobody may write (mode
    /// 0444), and never hold a descriptor that could modify it. (As root the mode bits are not
    /// enforced, so the open mode itself is checked; Tests/interop/test_reliability.py repeats
    /// this as an unprivileged user.)
    @Test func readersOpenReadOnly() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("ro.rowpack")
        var random = SeededRandom(seed: 8)
        let data = try makeInt32PairContainer(at: path, batches: [random.bytes(80), random.bytes(40)])
        #expect(chmod(path, 0o444) == 0)
        defer { chmod(path, 0o644) }
        let before = try fileBytes(path)
        let reader = try ContainerReader(path: path)
        #expect(fcntl(reader.io.descriptor.rawValue, F_GETFL) & O_ACCMODE == O_RDONLY)
        #expect(try readAll(reader) == data)
        #expect(reader.verify().isEmpty)
        #expect(try reader.refresh() == false)
        #expect(try fileBytes(path) == before)
    }

    /// While this process holds a writer, `rowpack append` in another process is refused with
    /// exit 1 and one line naming the file and "another writer"; the file is untouched. Once
    /// the writer closes, the same command succeeds.
    @Test(.enabled(if: rowpackCLI != nil, "needs the rowpack executable")) func secondWriterInAnotherProcessIsRefused()
        throws
    {
        let directory = try TemporaryDirectory()
        let path = directory.file("locked.rowpack")
        let npy = directory.file("rows.npy")
        var random = SeededRandom(seed: 21)
        let rows = random.bytes(5 * 8)
        try writeNpy(npy, dtype: .int32, rowShape: [2], rows: 5, data: rows)
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: [2], options: testOptions(rowsPerChunk: 4))
        try writer.append(rawRows: random.bytes(3 * 8))
        try writer.commit()
        let before = try fileBytes(path)

        let refused = try runCLI(["append", path, npy, "-q"])
        #expect(refused.status == 1, "\(refused)")
        let lines = refused.stderr.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        #expect(lines.count == 1, "\(refused.stderr)")
        #expect(lines.first?.contains("another writer") == true, "\(refused.stderr)")
        #expect(lines.first?.contains(path) == true, "\(refused.stderr)")
        #expect(try fileBytes(path) == before)

        try writer.close()
        let accepted = try runCLI(["append", path, npy, "-q"])
        #expect(accepted.status == 0, "\(accepted)")
        let reader = try ContainerReader(path: path)
        #expect(reader.rowCount == 8)
        #expect(try reader.read(rows: 3..<8) == rows)
    }
}
