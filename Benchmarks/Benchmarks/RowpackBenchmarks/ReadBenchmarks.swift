import Benchmark
import Dispatch
import Foundation
import Rowpack
import RowpackFormat

/// Random reads, full reads and export of the default sensor container (zstd-1, shuffle,
/// 64 KiB chunks). "Cold" means a new reader with an empty 16 MiB cache for each iteration
/// (the file itself stays in the page cache); the row picks are seeded, so every iteration does
/// the same work.
func registerReadBenchmarks(_ fixtures: Fixtures) {
    let cacheBytes = 16 << 20
    let rowBytes = Fixtures.rowBytes
    let perKilo = Benchmark.Configuration(
        timeUnits: .nanoseconds, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 200)
    nonisolated(unsafe) var reader: ContainerReader?
    let makeContainer: @Sendable () async throws -> Void = {
        _ = fixtures.sensorContainer
    }

    // 1000 random single rows per iteration from a fresh reader: throughput in K rows/s.
    Benchmark("Read.randomRow.cold", configuration: perKilo) { benchmark in
        let reader = try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes)
        let picks = fixtures.randomRows(benchmark.scaledIterations.count, seed: 1)
        var row = [UInt8](repeating: 0, count: rowBytes)
        benchmark.startMeasurement()
        try row.withUnsafeMutableBytes { buffer in
            for index in picks { try reader.read(rows: index..<(index + 1), into: buffer) }
        }
        benchmark.stopMeasurement()
        blackHole(row)
    } setup: {
        try await makeContainer()
    }

    // 1000 random rows of one chunk already in the cache: the cost of a hit.
    Benchmark("Read.randomRow.warm", configuration: perKilo) { benchmark in
        let reader = reader!
        let picks = fixtures.randomRows(benchmark.scaledIterations.count, seed: 2, below: reader.header.rowsPerChunk)
        var row = [UInt8](repeating: 0, count: rowBytes)
        benchmark.startMeasurement()
        try row.withUnsafeMutableBytes { buffer in
            for index in picks { try reader.read(rows: index..<(index + 1), into: buffer) }
        }
        benchmark.stopMeasurement()
        blackHole(row)
    } setup: {
        reader = try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes)
        blackHole(try reader!.row(0, as: Float.self))
    } teardown: {
        reader = nil
    }

    // 1000 random 100-row slices per iteration from a fresh reader.
    Benchmark("Read.slice100.random", configuration: perKilo) { benchmark in
        let reader = try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes)
        let picks = fixtures.randomRows(benchmark.scaledIterations.count, seed: 3, below: fixtures.rows - 100)
        var rows = [UInt8](repeating: 0, count: 100 * rowBytes)
        benchmark.startMeasurement()
        try rows.withUnsafeMutableBytes { buffer in
            for index in picks { try reader.read(rows: index..<(index + 100), into: buffer) }
        }
        benchmark.stopMeasurement()
        blackHole(rows)
    } setup: {
        try await makeContainer()
    }

    // One gather of 100 random rows per iteration from a fresh reader.
    Benchmark("Read.gather100.random", configuration: .init(maxDuration: .seconds(2), maxIterations: 200)) {
        benchmark in
        let reader = try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes)
        let picks = fixtures.randomRows(100, seed: 4)
        var rows = [UInt8](repeating: 0, count: 100 * rowBytes)
        benchmark.startMeasurement()
        try rows.withUnsafeMutableBytes { try reader.gather(rows: picks, into: $0) }
        benchmark.stopMeasurement()
        blackHole(rows)
    } setup: {
        try await makeContainer()
    }

    // The same random reads from two threads sharing one fresh reader (500 reads each). Which
    // thread misses a chunk first varies from run to run (the other waits for its decode), so the
    // allocation count moves by a few dozen: 2% of slack instead of 4 allocations.
    var threaded = perKilo
    threaded.thresholds?[.mallocCountTotal] = BenchmarkThresholds(relative: [.p90: 2])
    for (name, span) in [("Read.randomRow.cold.threads2", 1), ("Read.slice100.random.threads2", 100)] {
        Benchmark(name, configuration: threaded) { benchmark in
            let reader = try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes)
            let half = benchmark.scaledIterations.count / 2
            let picks = [5, 6].map { fixtures.randomRows(half, seed: UInt64($0 * span), below: fixtures.rows - span) }
            benchmark.startMeasurement()
            DispatchQueue.concurrentPerform(iterations: 2) { thread in
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: span * rowBytes, alignment: 16)
                defer { buffer.deallocate() }
                for index in picks[thread] { try! reader.read(rows: index..<(index + span), into: buffer) }
            }
            benchmark.stopMeasurement()
        } setup: {
            try await makeContainer()
        }
    }

    // Every row into one buffer.
    let bulk = Benchmark.Configuration(
        metrics: bytesMetrics, timeUnits: .milliseconds, maxIterations: 10, thresholds: tolerances(bytesMetrics))
    Benchmark("Read.full.sequential", configuration: bulk) { benchmark in
        try measureFullRead(benchmark, reader: try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes))
    } setup: {
        try await makeContainer()
    }

    // The whole container to a new .npy (no sync, like numpy's own np.save).
    Benchmark("Export.npy", configuration: bulk) { benchmark in
        let reader = try ContainerReader(path: fixtures.sensorContainer, cacheBytes: cacheBytes)
        let target = fixtures.path("export.npy")
        let start = DispatchTime.now().uptimeNanoseconds
        benchmark.startMeasurement()
        let rows = try reader.export(to: target, durability: .none)
        benchmark.stopMeasurement()
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        benchmark.measurement(
            megabytesPerSecondMetric, megabytesPerSecond(bytes: rows * rowBytes, nanoseconds: elapsed))
        unlink(target)
    } setup: {
        try await makeContainer()
    }
}
