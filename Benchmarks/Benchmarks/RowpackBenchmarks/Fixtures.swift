import Foundation
import Rowpack
import RowpackFormat

/// The suite's data and files, made on first use and shared by every benchmark of one process.
///
/// `@unchecked Sendable`: package-benchmark runs setup, measured closures and teardown of one
/// benchmark after another on one thread; the only concurrent readers (the two-thread read
/// benchmarks) read immutable arrays and paths made before they start.
final class Fixtures: @unchecked Sendable {
    static let shared = Fixtures()

    /// float32 × 64 "sensor" rows.
    static let channels = 64
    static let rowBytes = channels * 4

    /// Raw dataset size: `ROWPACK_BENCH_MIB` MiB (default 64).
    let datasetBytes: Int
    let rows: Int
    let directory: String

    private init() {
        let mib = ProcessInfo.processInfo.environment["ROWPACK_BENCH_MIB"].flatMap(Int.init) ?? 64
        datasetBytes = max(1, mib) << 20
        rows = datasetBytes / Self.rowBytes
        directory = NSTemporaryDirectory() + "rowpack-bench-\(getpid())"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Fixtures.shared.directory) }
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// The sensor data, flattened (rows × 64): each channel a smooth random walk around its own
    /// level plus a little noise (the model of `rowpack demo`).
    private(set) lazy var sensor: [Float] = SampleSensor.rows(rows, seed: 42, channels: Self.channels)

    /// The first rows of ``sensor`` as separate one-row arrays, for `append([Float])` per row.
    private(set) lazy var sensorRows: [[Float]] = (0..<min(rows, 4096)).map {
        Array(sensor[$0 * Self.channels..<($0 + 1) * Self.channels])
    }

    /// The sensor data stored with the default options (zstd-1, shuffle, 64 KiB chunks).
    private(set) lazy var sensorContainer: String = makeSensorContainer(name: "sensor.rowpack", options: Self.bulk())

    /// A container of `chunks` one-byte rows, one row per chunk, uncompressed: the index is all
    /// there is to it.
    func tinyChunks(_ chunks: Int) -> String {
        let path = path("tiny-\(chunks).rowpack")
        if access(path, F_OK) == 0 { return path }
        let writer = try! ContainerWriter.create(
            at: path, dtype: .uint8, rowShape: [],
            options: WriterOptions(rowsPerChunk: 1, codec: .none, durability: .none, maxChunksInFlight: 64))
        let block = [UInt8](repeating: 7, count: 4096)
        var left = chunks
        while left > 0 {
            let count = min(left, block.count)
            try! block.withUnsafeBytes { try writer.append(rawRows: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            left -= count
        }
        try! writer.close()
        return path
    }

    func makeSensorContainer(name: String, options: WriterOptions) -> String {
        let path = path(name)
        let writer = try! ContainerWriter.create(
            at: path, dtype: .float32, rowShape: [Self.channels], options: options, overwrite: true)
        try! sensor.withUnsafeBytes { try writer.append(rawRows: $0) }
        try! writer.close()
        return path
    }

    /// Bulk-load options: no syncs.
    static func bulk(codec: ChunkCodec = .zstd, level: Int? = nil, shuffle: Bool? = nil) -> WriterOptions {
        WriterOptions(codec: codec, level: level, shuffle: shuffle, durability: .none)
    }

    /// `count` row numbers drawn from `0..<rows` with a fixed seed.
    func randomRows(_ count: Int, seed: UInt64, below limit: Int? = nil) -> [Int] {
        var generator = SplitMix64(seed: seed)
        let bound = UInt64(limit ?? rows)
        return (0..<count).map { _ in Int(generator.next() % bound) }
    }
}

/// Megabytes (10^6 bytes) per second, as the comparison tables state them.
func megabytesPerSecond(bytes: Int, nanoseconds: UInt64) -> Int {
    Int((Double(bytes) * 1e3 / Double(max(nanoseconds, 1))).rounded())
}
