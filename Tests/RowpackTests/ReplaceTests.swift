import Foundation
import RowpackFormat
import Testing

@testable import Rowpack

/// Replacing and creating files (issue 10, items 1, 2, 19, 22): new files are built aside and
/// published whole, a live writer's file is never replaced, and writers notice a file replaced
/// under them.
@Suite struct ReplaceTests {
    /// A container of `rows` int32 rows of 2 at `path`, committed; its writer is returned open.
    private func liveContainer(_ path: String, rows: Int, seed: UInt64) throws -> ContainerWriter {
        var random = SeededRandom(seed: seed)
        let writer = try ContainerWriter.create(
            at: path, dtype: .int32, rowShape: [2], options: testOptions(rowsPerChunk: 4))
        try writer.append(rawRows: random.bytes(rows * 8))
        try writer.commit()
        return writer
    }

    @Test(.enabled(if: rowpackCLI != nil, "needs the rowpack executable")) func aLiveWritersFileIsNeverReplaced() throws
    {
        let directory = try TemporaryDirectory()
        let path = directory.file("live.rowpack")
        let npy = directory.file("rows.npy")
        var random = SeededRandom(seed: 31)
        try writeNpy(npy, dtype: .int32, rowShape: [2], rows: 9, data: random.bytes(9 * 8))
        let other = directory.file("other.rowpack")
        try liveContainer(other, rows: 6, seed: 32).close()
        let writer = try liveContainer(path, rows: 3, seed: 33)
        let before = try fileBytes(path)

        let source = try ContainerReader(path: other)
        let attempts: [(String, () throws -> Void)] = [
            ("create", { _ = try ContainerWriter.create(at: path, dtype: .int8, rowShape: [], overwrite: true) }),
            (
                "import",
                { try ContainerWriter.create(at: path, importing: try NpyFile(path: npy), overwrite: true).close() }
            ),
            ("compact", { try source.compact(to: path, options: testOptions(rowsPerChunk: 4), overwrite: true) }),
            ("export", { try source.export(to: path, overwrite: true) }),
        ]
        for (name, attempt) in attempts {
            let error = expectRowpackError(.locked, name) { try attempt() }
            #expect(error?.message.contains("another writer") == true, "\(name): \(String(describing: error))")
            #expect(error?.path == path)
            #expect(try fileBytes(path) == before, "\(name) changed the file")
        }
        let refused = try runCLI(["import", npy, path, "--force", "-q"])
        #expect(refused.status == 1 && refused.stderr.contains("another writer"), "\(refused)")
        #expect(try fileBytes(path) == before)

        // The writer's file is still the one at the path: what it commits, readers see.
        try writer.append([7, 8] as [Int32])
        try writer.close()
        #expect(try ContainerReader(path: path).rowCount == 4)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == [
                "live.rowpack", "other.rowpack", "rows.npy",
            ])
    }

    @Test func aFileReplacedBetweenOpenAndLockIsDetected() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.rowpack")
        try liveContainer(path, rows: 5, seed: 34).close()
        let opened = try FileIO.openForWriting(path)
        // Another process's `import --force` publishes a new file at the path meanwhile.
        let replacement = directory.file("new.rowpack")
        try liveContainer(replacement, rows: 2, seed: 35).close()
        #expect(rename(replacement, path) == 0)
        let error = expectRowpackError(.locked) { try opened.lockForWriting() }
        #expect(error?.message.contains("replaced") == true, "\(String(describing: error))")
        // The lock was released: a writer opening the path now gets the new file.
        let writer = try ContainerWriter.open(at: path)
        #expect(writer.rowCount == 2)
        try writer.close()
    }

    @Test func anImportAppearsOnlyWhenClosedAndIsNamedByItsDestination() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.rowpack")
        let npy = directory.file("rows.npy")
        var random = SeededRandom(seed: 36)
        let data = random.bytes(10 * 8)
        try writeNpy(npy, dtype: .int32, rowShape: [2], rows: 10, data: data)
        let writer = try ContainerWriter.create(
            at: path, importing: try NpyFile(path: npy), options: testOptions(rowsPerChunk: 4))
        #expect(writer.path == path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["rows.npy"])
        try writer.close()
        #expect(try ContainerReader(path: path).read(rows: 0..<10) == data)
        let error = expectRowpackError(.invalidArgument) { try writer.append(rawRows: data) }
        #expect(error?.path == path)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["c.rowpack", "rows.npy"])
    }

    @Test func anImportThatNeverClosesLeavesTheDestinationAsItWas() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.rowpack")
        let npy = directory.file("rows.npy")
        var random = SeededRandom(seed: 37)
        try writeNpy(npy, dtype: .int32, rowShape: [2], rows: 10, data: random.bytes(10 * 8))
        try liveContainer(path, rows: 5, seed: 38).close()
        let before = try fileBytes(path)
        do {
            let writer = try ContainerWriter.create(
                at: path, importing: try NpyFile(path: npy), options: testOptions(rowsPerChunk: 4), overwrite: true)
            try writer.append(rawRows: random.bytes(3 * 8))
            try writer.commit()  // committed into the new file, which is never published
        }
        #expect(try fileBytes(path) == before)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["c.rowpack", "rows.npy"])
    }
}
