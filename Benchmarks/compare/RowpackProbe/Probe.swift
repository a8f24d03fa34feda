// rowpack-probe: Rowpack's side of Benchmarks/compare/compare.py.
//
// Usage: rowpack-probe DATASET.npy WORKDIR [--rows-per-chunk N] [--row-cap N] [--samples N]
//                      [--seed N] [--repeat N] [--open-chunks N] [--append-only N]
//
// Measures on the rows of DATASET.npy, the same way compare.py measures its peers, and prints
// one JSON object on stdout. Every figure is checked before it is reported: the data read back,
// every random row and slice, and the export must equal the source, else it exits 1.
// Durability is .none for the throughput figures (the peers do not sync either);
// append_durable_mbps repeats the batch append with the default (durable) commit.
import Dispatch
import Foundation
import Rowpack
import RowpackFormat

struct ProbeFailure: Error, CustomStringConvertible {
    let description: String
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("rowpack-probe: \(message)\n".utf8))
    exit(1)
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func seconds(since start: UInt64) -> Double { Double(now() - start) / 1e9 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

@main
enum RowpackProbe {
    static func main() throws {
        // MARK: Arguments

        var arguments = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String, default value: Int) -> Int {
            guard let at = arguments.firstIndex(of: name) else { return value }
            guard at + 1 < arguments.count, let parsed = Int(arguments[at + 1]) else {
                fail("\(name) needs an integer")
            }
            arguments.removeSubrange(at...(at + 1))
            return parsed
        }
        let rowsPerChunkOption = option("--rows-per-chunk", default: 0)
        let rowCap = option("--row-cap", default: 1 << 30)
        let samples = option("--samples", default: 2000)
        let seed = option("--seed", default: 7)
        let openChunks = option("--open-chunks", default: 0)
        // Best of this many runs for the throughput figures (append, full read, export).
        let repeats = max(1, option("--repeat", default: 3))
        // For profiling (perf record, valgrind): only the batch append, this many times, then exit.
        let appendOnly = option("--append-only", default: 0)
        guard arguments.count == 2 else {
            fail(
                "usage: rowpack-probe DATASET.npy WORKDIR [--rows-per-chunk N] [--row-cap N] [--samples N] "
                    + "[--seed N] [--repeat N] [--open-chunks N] [--append-only N]"
            )
        }
        let datasetPath = arguments[0]
        let workDirectory = arguments[1]
        try? FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)

        // MARK: The source rows, in memory (as the peers hold them in a numpy array)

        let npy: NpyFile
        do { npy = try NpyFile(path: datasetPath) } catch { fail("\(error)") }
        let dtype = npy.header.dtype
        let rowShape = npy.header.rowShape
        let rows = npy.header.rows
        let rowBytes = npy.rowBytes
        let rawBytes = rows * rowBytes
        guard let fileData = FileManager.default.contents(atPath: datasetPath) else {
            fail("cannot read \(datasetPath)")
        }
        let source = [UInt8](fileData[npy.header.dataOffset..<(npy.header.dataOffset + rawBytes)])

        func options(_ durability: Durability) -> WriterOptions {
            WriterOptions(
                rowsPerChunk: rowsPerChunkOption > 0 ? rowsPerChunkOption : nil, codec: .zstd, level: 1, shuffle: true,
                durability: durability)
        }

        func sourceRows(_ range: Range<Int>) -> ArraySlice<UInt8> {
            source[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)]
        }

        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { fail("check failed: \(message())") }
        }

        func storedBytes(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        }

        var result: [String: Any] = [
            "tool": "rowpack", "rows": rows, "row_bytes": rowBytes, "raw_bytes": rawBytes, "dtype": dtype.descr,
        ]

        do {
            // Append in batches of 1000 rows, then close (one commit); best of `repeats` runs, like the peers.
            let containerPath = workDirectory + "/batches.rowpack"
            func appendBatches(_ durability: Durability) throws -> Double {
                unlink(containerPath)
                let start = now()
                let writer = try ContainerWriter.create(
                    at: containerPath, dtype: dtype, rowShape: rowShape, options: options(durability), overwrite: true)
                try source.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let end = min(raw.count, offset + 1000 * rowBytes)
                        try writer.append(rawRows: UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                        offset = end
                    }
                }
                try writer.close()
                return Double(rawBytes) / seconds(since: start) / 1e6
            }
            if appendOnly > 0 {
                for _ in 0..<appendOnly { print(try appendBatches(.none)) }
                return
            }
            var append = 0.0
            for _ in 0..<repeats { append = max(append, try appendBatches(.none)) }
            let appendDurable = try appendBatches(.durable)
            do {
                let reader = try ContainerReader(path: containerPath)
                check(reader.rowCount == rows, "batch container holds \(reader.rowCount) rows, not \(rows)")
                check(try reader.read(rows: 0..<rows)[...] == source[...], "batch container differs from the source")
            }
            result["rows_per_chunk"] = try ContainerReader(path: containerPath).header.rowsPerChunk
            result["append_mbps"] = append
            result["append_durable_mbps"] = appendDurable
            let stored = storedBytes(containerPath)
            result["stored_bytes"] = stored
            result["ratio"] = Double(rawBytes) / Double(stored)

            // One row per append call (a pointer into the source, as the peers pass a one-row view).
            let rowwisePath = workDirectory + "/rows.rowpack"
            let rowwiseRows = min(rows, rowCap)
            unlink(rowwisePath)
            let rowwiseStart = now()
            let writer = try ContainerWriter.create(
                at: rowwisePath, dtype: dtype, rowShape: rowShape, options: options(.none), overwrite: true)
            try source.withUnsafeBytes { raw in
                for row in 0..<rowwiseRows {
                    try writer.append(
                        rawRows: UnsafeRawBufferPointer(rebasing: raw[(row * rowBytes)..<((row + 1) * rowBytes)]))
                }
            }
            try writer.close()
            let rowwiseSeconds = seconds(since: rowwiseStart)
            do {
                let reader = try ContainerReader(path: rowwisePath)
                check(reader.rowCount == rowwiseRows, "row-by-row container holds \(reader.rowCount) rows")
                check(
                    try reader.read(rows: 0..<rowwiseRows)[...] == sourceRows(0..<rowwiseRows),
                    "row-by-row container differs")
            }
            result["rowwise_rows"] = rowwiseRows
            result["rowwise_rows_per_s"] = Double(rowwiseRows) / rowwiseSeconds
            unlink(rowwisePath)

            // Open: median of 200 opens of the batch container.
            var opens: [Double] = []
            for _ in 0..<200 {
                let start = now()
                let reader = try ContainerReader(path: containerPath, cacheBytes: 16 << 20)
                opens.append(seconds(since: start))
                check(reader.rowCount == rows, "opened container holds \(reader.rowCount) rows")
            }
            result["open_ms"] = percentile(opens, 50) * 1e3

            // Random single rows and 100-row slices, each from a fresh reader with a 16 MiB cache.
            var generator = SplitMix64(seed: UInt64(seed))
            func latencies(span: Int) throws -> [Double] {
                let reader = try ContainerReader(path: containerPath, cacheBytes: 16 << 20)
                var times: [Double] = []
                times.reserveCapacity(samples)
                for _ in 0..<samples {
                    let first = Int(generator.next() % UInt64(rows - span + 1))
                    let start = now()
                    let bytes = try reader.read(rows: first..<(first + span))
                    times.append(seconds(since: start))
                    check(
                        bytes[...] == sourceRows(first..<(first + span)),
                        "rows \(first)..<\(first + span) differ from the source")
                }
                return times
            }
            let single = try latencies(span: 1)
            result["random_row_p50_us"] = percentile(single, 50) * 1e6
            result["random_row_p99_us"] = percentile(single, 99) * 1e6
            let slices = try latencies(span: 100)
            result["slice_p50_us"] = percentile(slices, 50) * 1e6
            result["slice_p99_us"] = percentile(slices, 99) * 1e6

            // Full sequential read into a new array (the peers' arr[:]).
            var fullBest = 0.0
            for _ in 0..<repeats {
                let reader = try ContainerReader(path: containerPath, cacheBytes: 16 << 20)
                let start = now()
                let all = try reader.read(rows: 0..<rows)
                fullBest = max(fullBest, Double(rawBytes) / seconds(since: start) / 1e6)
                check(all[...] == source[...], "full read differs from the source")
            }
            result["full_read_mbps"] = fullBest

            // Export to .npy (no sync, like np.save).
            let exportPath = workDirectory + "/export.npy"
            var exportBest = 0.0
            for _ in 0..<repeats {
                unlink(exportPath)
                sync()  // start each export with no dirty pages pending, as compare.py does for the peers
                let reader = try ContainerReader(path: containerPath, cacheBytes: 16 << 20)
                let start = now()
                let exported = try reader.export(to: exportPath, durability: .none)
                exportBest = max(exportBest, Double(exported * rowBytes) / seconds(since: start) / 1e6)
                let written = try NpyFile(path: exportPath)
                check(
                    written.header.dtype == dtype && written.header.shape == npy.header.shape, "export header differs")
                guard let data = FileManager.default.contents(atPath: exportPath) else {
                    fail("cannot read the export")
                }
                let same = data.count - written.header.dataOffset == rawBytes
                    && data.withUnsafeBytes { file in
                        source.withUnsafeBytes {
                            memcmp(file.baseAddress! + written.header.dataOffset, $0.baseAddress!, rawBytes) == 0
                        }
                    }
                check(same, "export data differs from the source")
            }
            result["export_mbps"] = exportBest
            unlink(exportPath)

            // Opening a container of many one-byte chunks (one row per chunk, uncompressed).
            if openChunks > 0 {
                let path = workDirectory + "/many-chunks.rowpack"
                let writer = try ContainerWriter.create(
                    at: path, dtype: .uint8, rowShape: [],
                    options: WriterOptions(rowsPerChunk: 1, codec: .none, durability: .none, maxChunksInFlight: 64),
                    overwrite: true)
                let block = [UInt8](repeating: 9, count: 4096)
                var left = openChunks
                while left > 0 {
                    let count = min(left, block.count)
                    try block.withUnsafeBytes {
                        try writer.append(rawRows: UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                    }
                    left -= count
                }
                try writer.close()
                var times: [Double] = []
                for _ in 0..<200 {
                    let start = now()
                    let reader = try ContainerReader(path: path, cacheBytes: 16 << 20)
                    times.append(seconds(since: start))
                    check(reader.chunkCount == openChunks, "many-chunk container holds \(reader.chunkCount) chunks")
                }
                let reader = try ContainerReader(path: path)
                check(try reader.row(openChunks - 1, as: UInt8.self) == [9], "last one-byte row differs")
                result["open_many_chunks"] = openChunks
                result["open_many_chunks_ms"] = percentile(times, 50) * 1e3
                unlink(path)
            }
            unlink(containerPath)
        } catch {
            fail("\(error)")
        }

        result["checks"] = "ok"
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}
