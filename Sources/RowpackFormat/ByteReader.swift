/// A forward-only cursor over untrusted little-endian bytes.
///
/// Every read is checked against `remaining` before a byte is touched, and the checks are
/// subtractions, so a hostile length can never overflow an index. Nothing here can trap on bad
/// input: every failure is a ``FormatError`` carrying the offset where it happened.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    private let end: Int
    /// Offset of the next unread byte, relative to the start of `bytes`.
    public private(set) var offset: Int

    /// A reader over `bytes[start..<end]`.
    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        let end = min(end ?? bytes.count, bytes.count)
        self.end = end
        self.offset = min(max(0, start), end)
    }

    /// Number of unread bytes; never negative.
    public var remaining: Int { end - offset }

    /// Reads a little-endian integer and advances past it.
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(FormatError) -> T {
        let size = T.bitWidth / 8
        guard size <= remaining else {
            throw FormatError(.truncated, at: offset, "need \(size) bytes, \(remaining) left")
        }
        var value: T = 0
        for i in 0..<size {
            value |= T(truncatingIfNeeded: bytes[offset + i]) << (i * 8)
        }
        offset += size
        return value
    }

    /// Reads a `UInt64` field that must fit in `Int` and lie in `0...limit`.
    public mutating func readCount(_ field: String, limit: Int = Int.max) throws(FormatError) -> Int {
        let at = offset
        let raw = try read(UInt64.self)
        guard let value = Int(exactly: raw), value <= limit else {
            throw FormatError(.outOfRange, at: at, "\(field) = \(raw) exceeds the limit \(limit)")
        }
        return value
    }

    /// Reads `count` bytes, where `count` may come straight from the file.
    public mutating func readBytes(_ count: Int) throws(FormatError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw FormatError(.truncated, at: offset, "need \(count) bytes, \(remaining) left")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
}

/// Appends little-endian fields to a byte array; the writing twin of ``ByteReader``.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends a little-endian integer.
    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
    }

    /// Appends raw bytes.
    public mutating func write<S: Sequence>(bytes other: S) where S.Element == UInt8 {
        bytes.append(contentsOf: other)
    }

    /// Appends `count` zero bytes.
    public mutating func writeZeros(_ count: Int) {
        bytes.append(contentsOf: repeatElement(0, count: count))
    }

    /// Appends the CRC-32C of everything written so far (how every structure ends).
    public mutating func writeChecksum() {
        write(CRC32C.checksum(bytes))
    }
}

/// Checks `start + length <= limit` (all non-negative) without computing `start + length`.
@inline(__always)
public func rangeFits(start: Int, length: Int, within limit: Int) -> Bool {
    start >= 0 && length >= 0 && start <= limit && length <= limit - start
}

/// `a × b` for sizes read from untrusted bytes, or a ``FormatError`` instead of a trap.
public func checkedProduct(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws(FormatError) -> Int {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow, a >= 0, b >= 0 else {
        throw FormatError(.outOfRange, "\(what()) overflows: \(a) × \(b)")
    }
    return product
}
