// The package-benchmark suite: cd Benchmarks && swift package benchmark
//
// Dataset: float32 × 64 "sensor" rows, ROWPACK_BENCH_MIB MiB raw (default 64), made once per
// process in a temporary directory. Throughput benchmarks use durability .none unless the name
// says `durable`. Metrics: wall clock, throughput (iterations per second; benchmarks with
// scalingFactor .kilo do 1000 operations per iteration, so their throughput reads in K ops/s),
// malloc counts, and `MBps` (10^6 bytes per second of raw data) where bytes are the point.
//
// Static thresholds (Benchmarks/Thresholds, p90 per metric): see README in that folder.
import Benchmark
import Dispatch
import Foundation
import Rowpack
import RowpackFormat

/// Megabytes per second of raw rows moved by one iteration.
let megabytesPerSecondMetric = BenchmarkMetric.custom("MBps", polarity: .prefersLarger, useScalingFactor: false)

/// Reads every row of the sensor dataset from `reader` into one buffer, measured, and records
/// the rate as ``megabytesPerSecondMetric``.
func measureFullRead(_ benchmark: Benchmark, reader: ContainerReader) throws {
    let fixtures = Fixtures.shared
    var output = [UInt8](repeating: 0, count: fixtures.datasetBytes)
    let start = DispatchTime.now().uptimeNanoseconds
    benchmark.startMeasurement()
    try output.withUnsafeMutableBytes { try reader.read(rows: 0..<fixtures.rows, into: $0) }
    benchmark.stopMeasurement()
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    benchmark.measurement(megabytesPerSecondMetric, megabytesPerSecond(bytes: fixtures.datasetBytes, nanoseconds: elapsed))
    blackHole(output)
}

/// Loose on time (shared 2-core machines vary by ±50%), strict on allocations (deterministic).
/// Only p90 is compared with the recorded static thresholds; a relative tolerance is symmetric, so:
func tolerances(_ metrics: [BenchmarkMetric]) -> [BenchmarkMetric: BenchmarkThresholds] {
    let all: [BenchmarkMetric: BenchmarkThresholds] = [
        // wall clock: fail when p90 is more than 2.5× the recorded value (it can never be 150% faster).
        .wallClock: BenchmarkThresholds(relative: [.p90: 150]),
        // throughput and MB/s (larger is better): they cannot fall by more than 100%, so only a rise above 2.5×
        // the recorded value fails, which means the thresholds are stale; slowdowns are the wall clock's job.
        .throughput: BenchmarkThresholds(relative: [.p90: 150]),
        megabytesPerSecondMetric: BenchmarkThresholds(relative: [.p90: 150]),
        // allocations are deterministic: a few of slack for what Dispatch does on its own threads.
        .mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 4]),
    ]
    return all.filter { metrics.contains($0.key) }
}

/// The metrics of every benchmark; those about bytes add ``megabytesPerSecondMetric``.
let baseMetrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
let bytesMetrics = baseMetrics + [megabytesPerSecondMetric]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: baseMetrics,
        timeUnits: .microseconds,
        warmupIterations: 1,
        maxDuration: .seconds(2),
        maxIterations: 20,
        thresholds: tolerances(baseMetrics)
    )
    let fixtures = Fixtures.shared
    let bulk = Benchmark.Configuration(
        metrics: bytesMetrics, timeUnits: .milliseconds, maxIterations: 10, thresholds: tolerances(bytesMetrics))

    // MARK: Encode and decode per codec × shuffle

    let codecs: [(name: String, codec: ChunkCodec, level: Int?)] = [
        ("zstdNeg1", .zstd, -1), ("zstd1", .zstd, 1), ("zstd3", .zstd, 3), ("zlib1", .zlib, 1), ("none", .none, nil),
    ]
    for (codecName, codec, level) in codecs {
        for shuffle in [true, false] {
            let suffix = "\(codecName).\(shuffle ? "shuffle" : "noshuffle")"
            let options = Fixtures.bulk(codec: codec, level: level, shuffle: shuffle)

            // Append the whole prepared dataset into a new container, close (one commit).
            Benchmark("Encode.\(suffix)", configuration: bulk) { benchmark in
                let path = fixtures.path("encode.rowpack")
                let start = DispatchTime.now().uptimeNanoseconds
                let writer = try ContainerWriter.create(
                    at: path, dtype: .float32, rowShape: [Fixtures.channels], options: options, overwrite: true)
                try fixtures.sensor.withUnsafeBytes { try writer.append(rawRows: $0) }
                try writer.close()
                let elapsed = DispatchTime.now().uptimeNanoseconds - start
                benchmark.measurement(
                    megabytesPerSecondMetric, megabytesPerSecond(bytes: fixtures.datasetBytes, nanoseconds: elapsed))
            } setup: {
                _ = fixtures.sensor
            }

            // Read every row back into one buffer.
            let stored = "decode-\(suffix).rowpack"
            Benchmark("Decode.\(suffix)", configuration: bulk) { benchmark in
                try measureFullRead(benchmark, reader: try ContainerReader(path: fixtures.path(stored)))
            } setup: {
                _ = fixtures.makeSensorContainer(name: stored, options: options)
            } teardown: {
                unlink(fixtures.path(stored))
            }
        }
    }

    // MARK: Appending

    Benchmark("Append.batch1000.f32x64", configuration: bulk) { benchmark in
        let path = fixtures.path("batches.rowpack")
        let batchBytes = 1000 * Fixtures.rowBytes
        let start = DispatchTime.now().uptimeNanoseconds
        let writer = try ContainerWriter.create(
            at: path, dtype: .float32, rowShape: [Fixtures.channels], options: Fixtures.bulk(), overwrite: true)
        try fixtures.sensor.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let end = min(raw.count, offset + batchBytes)
                try writer.append(rawRows: UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
            }
        }
        try writer.close()
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        benchmark.measurement(
            megabytesPerSecondMetric, megabytesPerSecond(bytes: fixtures.datasetBytes, nanoseconds: elapsed))
    } setup: {
        _ = fixtures.sensor
    }

    // One row per call of append([Float]); 1000 rows per iteration, so throughput is K rows/s.
    // The writer lives across iterations (chunks fill and compress as in a real log).
    nonisolated(unsafe) var rowWriter: ContainerWriter?
    Benchmark(
        "Append.rowByRow.f32x64",
        configuration: .init(
            timeUnits: .nanoseconds, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 1000)
    ) { benchmark in
        let rows = fixtures.sensorRows
        let writer = rowWriter!
        var next = benchmark.currentIteration * 1000 % rows.count
        for _ in benchmark.scaledIterations {
            try writer.append(rows[next])
            next = next + 1 == rows.count ? 0 : next + 1
        }
    } setup: {
        _ = fixtures.sensorRows
        rowWriter = try ContainerWriter.create(
            at: fixtures.path("rows.rowpack"), dtype: .float32, rowShape: [Fixtures.channels],
            options: Fixtures.bulk(), overwrite: true)
    } teardown: {
        try rowWriter?.close()
        rowWriter = nil
        unlink(fixtures.path("rows.rowpack"))
    }

    // MARK: Committing: one small append + commit, with 10 or 100,000 chunks already in the file
    //
    // A commit rewrites the last index leaf (up to 4096 entries of 16 bytes) and the root (16
    // bytes per leaf), so its cost follows how full the last leaf is, not how many chunks the
    // file holds: 100,000 chunks leave 1696 entries in the last leaf, 98,314 leave 10 — the same
    // as a 10-chunk file.

    for (name, chunks, durability) in [
        ("Commit.chunks10", 10, Durability.none), ("Commit.chunks100k", 100_000, .none),
        ("Commit.chunks98314.lastLeaf10", 24 * 4096 + 10, .none), ("Commit.durable.chunks10", 10, .durable),
    ] {
        nonisolated(unsafe) var writer: ContainerWriter?
        let copy = fixtures.path("commit-\(name).rowpack")
        Benchmark(name, configuration: .init(maxIterations: 1000)) { benchmark in
            let byte: [UInt8] = [1]
            try writer!.append(rawRows: byte)
            try writer!.commit()
        } setup: {
            let source = fixtures.tinyChunks(chunks)
            unlink(copy)
            try FileManager.default.copyItem(atPath: source, toPath: copy)
            writer = try ContainerWriter.open(at: copy, options: WriterOptions(durability: durability))
        } teardown: {
            try writer?.close()
            writer = nil
            unlink(copy)
        }
    }

    // MARK: Opening

    Benchmark("Open.small", configuration: .init(timeUnits: .nanoseconds, scalingFactor: .kilo, maxIterations: 1000)) {
        benchmark in
        let path = fixtures.tinyChunks(10)
        for _ in benchmark.scaledIterations { blackHole(try ContainerReader(path: path, cacheBytes: 16 << 20)) }
    } setup: {
        _ = fixtures.tinyChunks(10)
    }

    Benchmark("Open.chunks1M", configuration: .init(timeUnits: .nanoseconds, scalingFactor: .kilo, maxIterations: 1000))
    { benchmark in
        let path = fixtures.tinyChunks(1 << 20)
        for _ in benchmark.scaledIterations { blackHole(try ContainerReader(path: path, cacheBytes: 16 << 20)) }
    } setup: {
        _ = fixtures.tinyChunks(1 << 20)
    }

    registerReadBenchmarks(fixtures)
}
