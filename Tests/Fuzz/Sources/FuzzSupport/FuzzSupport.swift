import RowpackFormat

#if canImport(Glibc)
    import Glibc
#endif

// Helpers shared by the harnesses: reading fields out of the fuzzer's bytes, and re-sealing
// checksums so mutations reach the checks that come after the CRC.

/// The fuzzer's input as an array (an empty one when libFuzzer passes no bytes).
public func inputBytes(_ start: UnsafeRawPointer?, _ count: Int) -> [UInt8] {
    guard let start, count > 0 else { return [] }
    return Array(UnsafeRawBufferPointer(start: start, count: count))
}

/// The little-endian `UInt64` at `offset`, or nil if the bytes end first.
public func loadUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64? {
    guard offset >= 0, offset <= bytes.count - 8 else { return nil }
    var value: UInt64 = 0
    for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * i) }
    return value
}

/// The little-endian `UInt32` at `offset`, or nil if the bytes end first.
public func loadUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32? {
    guard offset >= 0, offset <= bytes.count - 4 else { return nil }
    var value: UInt32 = 0
    for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * i) }
    return value
}

/// Stores `value` little-endian at `offset` (which must fit).
public func storeUInt32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
}

/// Replaces the CRC-32C stored at `crcAt` with the checksum of `bytes[from..<crcAt]`, if both
/// lie inside `bytes`. Returns whether anything changed.
@discardableResult
public func reseal(_ bytes: inout [UInt8], from: Int, crcAt: Int) -> Bool {
    guard from >= 0, from <= crcAt, crcAt <= bytes.count - 4 else { return false }
    let crc = CRC32C.checksum(bytes[from..<crcAt])
    guard loadUInt32(bytes, at: crcAt) != crc else { return false }
    storeUInt32(crc, into: &bytes, at: crcAt)
    return true
}

/// Stops the process with a message libFuzzer reports as a crash: for broken invariants
/// (a round trip that does not round-trip), never for rejected input.
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant violated: \(message())") }
}

/// The one scratch file of a fuzzing process, for harnesses that open files by path: on tmpfs
/// when there is one, removed when the fuzzer exits normally.
public enum Scratch {
    public static let path: String = {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        return "\(directory)/rowpack-fuzz-\(getpid())"
    }()

    /// The removal of the scratch file at exit, registered on first use.
    private static let removedAtExit: Void = { atexit { unlink(Scratch.path) } }()

    /// Replaces the scratch file with `bytes`; false if it cannot be written.
    public static func write(_ bytes: [UInt8]) -> Bool {
        _ = removedAtExit
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n <= 0 { return false }
                done += n
            }
            return true
        }
    }

    /// The scratch file's content.
    public static func read() -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { fatalError("cannot read \(path)") }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n <= 0 { return out }
            out += buffer[0..<n]
        }
    }
}
