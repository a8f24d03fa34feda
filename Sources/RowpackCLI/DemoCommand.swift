import ArgumentParser
import Foundation
import Rowpack
import RowpackFormat

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the main job on a built-in sample and print a short report.",
        discussion: """
            Simulates a 64-channel float32 sensor: appends its rows one at a time into a \
            container with periodic commits, reads random rows and slices back, exports to .npy, \
            checks the export against the source, and verifies every chunk.

            Example: rowpack demo --rows 200000 --dir /tmp/rowpack-demo
            """
    )

    @Option(help: "Rows to generate.")
    var rows = 500_000

    @Option(help: "Directory for the files (kept); default: a temporary directory, removed afterwards.")
    var dir: String?

    @Option(help: "Commit every this many rows.")
    var commitEvery = 50_000

    func validate() throws {
        guard rows >= 1, rows <= 100_000_000 else { throw ValidationError("--rows must be in 1...100000000.") }
        guard commitEvery >= 1 else { throw ValidationError("--commit-every must be at least 1.") }
    }

    func run() throws {
        let directory = dir ?? NSTemporaryDirectory() + "rowpack-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let containerPath = directory + "/sensor.rowpack"
        let npyPath = directory + "/sensor.npy"
        var stream = SampleSensor()
        let channels = stream.channels
        let rowBytes = channels * 4
        try say(
            "Rowpack demo: \(rows) rows of float32 × \(channels) (a simulated \(channels)-channel sensor), \(formatBytes(rows * rowBytes)) raw"
        )

        // Append one row at a time, as a logging program would.
        let writer = try ContainerWriter.create(
            at: containerPath, dtype: .float32, rowShape: [channels], overwrite: true)
        var row = [Float](repeating: 0, count: channels)
        var appendSeconds = 0.0
        for index in 0..<rows {
            stream.next(into: &row)
            let start = DispatchTime.now()
            try writer.append(row)
            if (index + 1) % commitEvery == 0 { try writer.commit() }
            appendSeconds += seconds(since: start)
        }
        let closeStart = DispatchTime.now()
        try writer.close()
        appendSeconds += seconds(since: closeStart)
        try say(
            String(
                format: "  append  %d rows one at a time, commit every %d: %.2f s, %.2f M rows/s (%.0f MB/s)",
                rows, commitEvery, appendSeconds, Double(rows) / appendSeconds / 1e6,
                Double(rows * rowBytes) / appendSeconds / 1e6))

        let reader = try ContainerReader(path: containerPath, cacheBytes: 16 << 20)
        let commit = reader.commit
        let stored = commit.committedLength - commit.deadBytes
        try say(
            String(
                format: "  stored  %@ (ratio %.2f), %llu commits, %@ level %d%@, %d rows per chunk",
                formatBytes(stored), Double(rows * rowBytes) / Double(stored), commit.sequence,
                reader.header.codec.description, reader.header.level,
                reader.header.shufflesByDefault ? " + shuffle" : "",
                reader.header.rowsPerChunk))

        // Random single rows and 100-row slices, checked against a regenerated source.
        var generator = SplitMix64(seed: 7)
        let reference = SampleSensor.rows(rows)
        var latencies: [Double] = []
        for _ in 0..<10_000 {
            let index = Int(generator.next() % UInt64(rows))
            let start = DispatchTime.now()
            let values = try reader.row(index, as: Float.self)
            latencies.append(seconds(since: start))
            guard values == Array(reference[index * channels..<(index + 1) * channels]) else {
                throw RowpackError(
                    .corrupt, path: containerPath, "row \(index) read back differs from what was appended")
            }
        }
        try say(
            String(
                format: "  rows    10000 random single rows: p50 %.1f µs, p99 %.1f µs (16 MiB cache, started cold)",
                percentile(latencies, 0.5) * 1e6, percentile(latencies, 0.99) * 1e6))
        latencies.removeAll()
        let slice = min(100, rows)
        for _ in 0..<1_000 {
            let first = Int(generator.next() % UInt64(rows - slice + 1))
            let start = DispatchTime.now()
            let values = try reader.read(rows: first..<first + slice, as: Float.self)
            latencies.append(seconds(since: start))
            guard values.elementsEqual(reference[first * channels..<(first + slice) * channels]) else {
                throw RowpackError(.corrupt, path: containerPath, "rows \(first)..<\(first + slice) read back differ")
            }
        }
        try say(
            String(
                format: "  slices  1000 random %d-row slices: p50 %.1f µs, p99 %.1f µs",
                slice, percentile(latencies, 0.5) * 1e6, percentile(latencies, 0.99) * 1e6))

        // Export to .npy and compare with the source, byte for byte.
        let exportStart = DispatchTime.now()
        try reader.export(to: npyPath, overwrite: true)
        let exportSeconds = seconds(since: exportStart)
        let npy = try NpyFile(path: npyPath)
        guard npy.header.shape == [rows, channels], npy.header.dtype == .float32, npy.header.hasCanonicalLength else {
            throw RowpackError(
                .corrupt, path: npyPath,
                "exported header is \(npy.header.shape) \(npy.header.dtype), expected [\(rows), \(channels)] <f4")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: npyPath)).dropFirst(npy.header.dataOffset)
        let equal = reference.withUnsafeBytes { source in data.elementsEqual(source) }
        guard equal else { throw RowpackError(.corrupt, path: npyPath, "exported data differs from the source") }
        try say(
            String(
                format: "  export  %@ .npy in %.2f s (%.0f MB/s); canonical numpy header, data equal to the source",
                formatBytes(rows * rowBytes + npy.header.dataOffset), exportSeconds,
                Double(rows * rowBytes) / exportSeconds / 1e6))

        let problems = reader.verify()
        guard problems.isEmpty else { throw problems[0] }
        try say("  verify  all \(reader.chunkCount) chunks intact")
        if dir != nil {
            try say("  files   \(containerPath), \(npyPath)")
            try say(
                "          python3 -c \"import numpy as np; a = np.load('\(npyPath)', mmap_mode='r'); print(a.shape, a.dtype)\""
            )
        }
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    private func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}
