/// Byte shuffle (`Spec/FORMAT.md` §4.2): for elements of `width` bytes, byte `j` of element `i`
/// moves to `j × count + i`, where `count = length / width`. Trailing bytes that do not fill a
/// whole element are copied unchanged. `unshuffle` is the inverse.
///
/// Widths 2, 4 and 8 have dedicated loops the optimizer unrolls; other widths take a generic
/// loop. Cost: O(length), one read and one write of every byte.
enum Shuffle {
    static func shuffle(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, width: Int) {
        transpose(source, into: destination, width: width, forward: true)
    }

    static func unshuffle(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, width: Int) {
        transpose(source, into: destination, width: width, forward: false)
    }

    private static func transpose(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, width: Int, forward: Bool
    ) {
        precondition(destination.count >= source.count, "shuffle destination too small")
        let length = source.count
        guard let src = source.baseAddress, let dst = destination.baseAddress, length > 0 else { return }
        let count = width > 0 ? length / width : 0
        let body = count * width
        if width <= 1 || count == 0 {
            dst.copyMemory(from: src, byteCount: length)
            return
        }
        let s = src.assumingMemoryBound(to: UInt8.self)
        let d = dst.assumingMemoryBound(to: UInt8.self)
        switch (width, forward) {
        case (2, true): shuffleFixed(s, d, count, UInt16.self)
        case (4, true): shuffleFixed(s, d, count, UInt32.self)
        case (8, true): shuffleFixed(s, d, count, UInt64.self)
        case (2, false): unshuffleFixed(s, d, count, UInt16.self)
        case (4, false): unshuffleFixed(s, d, count, UInt32.self)
        case (8, false): unshuffleFixed(s, d, count, UInt64.self)
        default:
            for i in 0..<count {
                for j in 0..<width {
                    if forward { d[j * count + i] = s[i * width + j] } else { d[i * width + j] = s[j * count + i] }
                }
            }
        }
        if body < length {
            (dst + body).copyMemory(from: src + body, byteCount: length - body)
        }
    }

    /// Forward shuffle for one element width: loads whole elements, stores byte planes.
    @inline(__always)
    private static func shuffleFixed<T: FixedWidthInteger & UnsignedInteger>(
        _ s: UnsafePointer<UInt8>, _ d: UnsafeMutablePointer<UInt8>, _ count: Int, _: T.Type
    ) {
        let width = MemoryLayout<T>.size
        let raw = UnsafeRawPointer(s)
        for i in 0..<count {
            let value = raw.loadUnaligned(fromByteOffset: i * width, as: T.self).littleEndian
            for j in 0..<width {
                d[j * count + i] = UInt8(truncatingIfNeeded: value >> (j * 8))
            }
        }
    }

    /// Inverse shuffle for one element width: gathers byte planes, stores whole elements.
    @inline(__always)
    private static func unshuffleFixed<T: FixedWidthInteger & UnsignedInteger>(
        _ s: UnsafePointer<UInt8>, _ d: UnsafeMutablePointer<UInt8>, _ count: Int, _: T.Type
    ) {
        let width = MemoryLayout<T>.size
        let raw = UnsafeMutableRawPointer(d)
        for i in 0..<count {
            var value: T = 0
            for j in 0..<width {
                value |= T(s[j * count + i]) << (j * 8)
            }
            raw.storeBytes(of: value.littleEndian, toByteOffset: i * width, as: T.self)
        }
    }
}
