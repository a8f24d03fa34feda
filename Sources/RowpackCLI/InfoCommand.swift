import ArgumentParser
import Foundation
import Rowpack
import RowpackFormat

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a container: dtype, shape, chunking, sizes, commits.",
        discussion: "Example: rowpack info sensors.rowpack --json"
    )

    @Argument(help: "The container.")
    var container: String

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Report: Encodable {
        var path: String
        var rows: Int
        var dtype: String
        var descr: String
        var row_shape: [Int]
        var row_bytes: Int
        var rows_per_chunk: Int
        var chunks: Int
        var codec: String
        var level: Int
        var shuffle: Bool
        var commits: UInt64
        var file_bytes: Int
        var committed_bytes: Int
        var raw_bytes: Int
        var dead_bytes: Int
        var ratio: Double
        var format_version: String
        var uuid: String
        /// Present when the newest commit in the file is damaged (this report is of the newest intact one).
        var damaged_commit: String?
    }

    func run() throws {
        let reader = try openReader(container, cacheBytes: 0)
        let header = reader.header
        let commit = reader.commit
        let fileBytes =
            (try? FileManager.default.attributesOfItem(atPath: container)[.size] as? Int) ?? commit.committedLength
        let raw = reader.rowCount * header.rowBytes
        let stored = commit.committedLength - commit.deadBytes
        let report = Report(
            path: container, rows: reader.rowCount, dtype: header.dtype.description, descr: header.dtype.descr,
            row_shape: header.rowShape,
            row_bytes: header.rowBytes, rows_per_chunk: header.rowsPerChunk, chunks: reader.chunkCount,
            codec: header.codec.description, level: header.level, shuffle: header.shufflesByDefault,
            commits: commit.sequence, file_bytes: fileBytes, committed_bytes: commit.committedLength, raw_bytes: raw,
            dead_bytes: commit.deadBytes, ratio: stored > 0 ? Double(raw) / Double(stored) : 0,
            format_version: "\(FormatVersion.major).\(header.minorVersion)",
            uuid: header.uuid.map { String(format: "%02x", $0) }.joined(),
            damaged_commit: reader.damagedCommit?.description)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try say(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        let shape =
            "(\(([reader.rowCount] + header.rowShape).map(String.init).joined(separator: ", "))\(header.rowShape.isEmpty ? "," : ""))"
        try say(
            """
            \(container)
              array       \(header.dtype) \(shape), \(formatBytes(header.rowBytes)) per row
              chunks      \(reader.chunkCount) of \(header.rowsPerChunk) rows (\(formatBytes(header.rowsPerChunk * header.rowBytes)) raw each)
              codec       \(header.codec) level \(header.level), shuffle \(header.shufflesByDefault ? "on" : "off")
              size        \(formatBytes(raw)) raw, \(formatBytes(stored)) stored, ratio \(String(format: "%.2f", report.ratio))
              file        \(formatBytes(fileBytes)) (\(formatBytes(commit.deadBytes)) dead\(fileBytes > commit.committedLength ? ", \(formatBytes(fileBytes - commit.committedLength)) uncommitted tail" : ""))
              commits     \(commit.sequence)
              format      \(report.format_version)
            """)
    }
}
