import ArgumentParser
import Foundation
import Rowpack
import RowpackFormat

/// `--quiet` / `--progress`: progress bars go to stderr when it is a terminal unless told otherwise.
struct ProgressOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Never show progress.")
    var quiet = false

    @Flag(help: "Show progress even when stderr is not a terminal.")
    var progress = false

    /// A progress bar named `label`, or a silent one.
    func bar(_ label: String, unitBytes: Int = 0) -> ProgressBar {
        ProgressBar(label: label, unitBytes: unitBytes, enabled: !quiet && (progress || isatty(STDERR_FILENO) != 0))
    }
}

/// A one-line progress bar with rate and ETA, redrawn at most ten times a second on stderr.
final class ProgressBar {
    private let label: String
    private let unitBytes: Int
    private let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast

    init(label: String, unitBytes: Int, enabled: Bool) {
        self.label = label
        self.unitBytes = unitBytes
        self.enabled = enabled
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(start), 1e-6)
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        var line = "\r\(label) [\(bar)] \(Int(fraction * 100))%"
        if unitBytes > 0 {
            line += String(format: " %.1f MB/s", Double(done * unitBytes) / elapsed / 1e6)
        }
        if done < total && done > 0 {
            line += String(format: " ETA %.0fs", elapsed / Double(done) * Double(total - done))
        }
        try? FileHandle.standardError.write(contentsOf: Data((line + (done >= total ? "\n" : "")).utf8))
    }
}

/// `--rows A:B` (also `A:`, `:B`, `:`): a half-open range, like a Python slice without steps or
/// negatives.
struct RowRange: ExpressibleByArgument {
    let bounds: RangeBounds

    init?(argument: String) {
        guard let bounds = RangeBounds(parsing: argument) else { return nil }
        self.bounds = bounds
    }

    /// The rows these bounds select in `reader`'s container (at `path`).
    func resolved(in reader: ContainerReader, path: String) throws -> Range<Int> {
        try bounds.resolved(
            length: reader.rowCount, path: path,
            "rows \(bounds) are out of range (the container has \(reader.rowCount) rows)")
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

extension RangeBounds {
    /// The range within `0..<length`, or an error naming `path` that says `problem`.
    func resolved(length: Int, path: String, _ problem: @autoclosure () -> String) throws -> Range<Int> {
        guard let range = resolved(length: length) else {
            throw RowpackError(.invalidArgument, path: path, problem())
        }
        return range
    }
}

/// Options that shape a new container's chunks.
struct StorageOptions: ParsableArguments {
    @Option(help: "Compression codec: zstd, zlib or none.")
    var codec: String?

    @Option(parsing: .unconditional, help: "Compression level (zstd: -131072...22, default 1; zlib: 0...9, default 6).")
    var level: Int?

    @Flag(inversion: .prefixedNo, help: "Byte-shuffle elements before compressing (default: on for multi-byte types).")
    var shuffle: Bool?

    @Option(name: .customLong("chunk-rows"), help: "Rows per chunk (default: about 64 KiB of rows).")
    var chunkRows: Int?

    func validate() throws {
        if let codec, ChunkCodec(name: codec) == nil {
            throw ValidationError("--codec must be zstd, zlib or none, not '\(codec)'.")
        }
        try validateLevel(defaultCodec: .zstd)
        if let chunkRows, chunkRows < 1 || chunkRows > FormatLimits.maxRowsPerChunk {
            throw ValidationError("--chunk-rows must be in 1...\(FormatLimits.maxRowsPerChunk).")
        }
    }

    /// Throws a usage error unless `--level` suits the codec: `--codec`'s, or `defaultCodec`
    /// (a compacted container's own codec) when none is given.
    func validateLevel(defaultCodec: ChunkCodec) throws {
        guard let level else { return }
        let codec = codec.flatMap(ChunkCodec.init(name:)) ?? defaultCodec
        guard codec.levels.contains(level) else {
            throw ValidationError(
                "--level \(level) is out of range for \(codec) (\(codec.levels.lowerBound)...\(codec.levels.upperBound))."
            )
        }
    }

    /// Writer options; unset flags fall back to `base`'s settings, or the library defaults.
    func writerOptions(base: FileHeader? = nil) -> WriterOptions {
        let codec = self.codec.flatMap(ChunkCodec.init(name:)) ?? base?.codec ?? .zstd
        var level = self.level
        if level == nil, self.codec == nil { level = base?.level }
        return WriterOptions(
            rowsPerChunk: chunkRows ?? base?.rowsPerChunk, codec: codec, level: level,
            shuffle: shuffle ?? base.map(\.shufflesByDefault))
    }
}

/// Bytes as "12.3 MiB".
func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// Thrown when stdout's reader went away (`rowpack read … | head -1`): the command ends quietly
/// with status 0, as `cat` and `head` do, instead of reporting the closed pipe as a failure.
struct StandardOutputClosed: Error {}

/// Writes text to stdout; a failed write (a full disk) is a runtime error, a closed pipe ends
/// the command quietly (``StandardOutputClosed``).
func emit(_ text: String) throws {
    let bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let written = bytes[done...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EPIPE { throw StandardOutputClosed() }
            throw RowpackError(
                .io, path: "standard output", "write failed: \(String(cString: strerror(code)))", errno: code)
        }
        done += written
    }
}

/// Writes a line to stdout.
func say(_ text: String) throws {
    try emit(text + "\n")
}

/// Writes a line to stderr; if even that fails there is no one left to tell.
func note(_ text: String) {
    try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
}

/// Opens the container `path` for reading; when its newest commit is damaged (the reader then
/// holds the newest intact one), says so in one line on stderr.
func openReader(_ path: String, cacheBytes: Int) throws -> ContainerReader {
    let reader = try ContainerReader(path: path, cacheBytes: cacheBytes)
    warnIfDamaged(reader)
    return reader
}

/// One line on stderr when `reader`'s file has a damaged commit newer than the one it holds.
func warnIfDamaged(_ reader: ContainerReader) {
    guard let damage = reader.damagedCommit else { return }
    note(
        "warning: \(reader.path): \(damage); using commit \(reader.commit.sequence) (\(reader.rowCount) rows) instead (`rowpack recover --discard-damaged` drops the damaged one)"
    )
}
