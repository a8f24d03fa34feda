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

    static func unshuffle(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, width: Int)
    {
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

    /// Forward shuffle for one element width: loads whole elements, stores byte planes, each
    /// plane a separate stream so the optimizer vectorizes the loop.
    @inline(__always)
    private static func shuffleFixed<T: FixedWidthInteger & UnsignedInteger>(
        _ s: UnsafePointer<UInt8>, _ d: UnsafeMutablePointer<UInt8>, _ count: Int, _: T.Type
    ) {
        let input = UnsafeRawPointer(s)
        let width = MemoryLayout<T>.size
        if width == 8 {
            // Two passes over 4-byte halves vectorize better than eight passes over whole elements.
            for half in 0..<2 {
                let planes = (0..<4).map { d + (4 * half + $0) * count }
                let (p0, p1, p2, p3) = (planes[0], planes[1], planes[2], planes[3])
                for i in 0..<count {
                    let value = input.loadUnaligned(fromByteOffset: i * 8 + 4 * half, as: UInt32.self).littleEndian
                    p0[i] = UInt8(truncatingIfNeeded: value)
                    p1[i] = UInt8(truncatingIfNeeded: value >> 8)
                    p2[i] = UInt8(truncatingIfNeeded: value >> 16)
                    p3[i] = UInt8(truncatingIfNeeded: value >> 24)
                }
            }
            return
        }
        for j in 0..<width {
            let plane = d + j * count
            let shift = j * 8
            for i in 0..<count {
                plane[i] = UInt8(
                    truncatingIfNeeded: input.loadUnaligned(fromByteOffset: i * width, as: T.self).littleEndian >> shift
                )
            }
        }
    }

    /// Inverse shuffle for one element width: gathers byte planes, stores whole elements. The
    /// planes are walked as separate streams so the optimizer vectorizes the loop.
    @inline(__always)
    private static func unshuffleFixed<T: FixedWidthInteger & UnsignedInteger>(
        _ s: UnsafePointer<UInt8>, _ d: UnsafeMutablePointer<UInt8>, _ count: Int, _: T.Type
    ) {
        let out = UnsafeMutableRawPointer(d)
        let width = MemoryLayout<T>.size
        switch width {
        case 2:
            let (p0, p1) = (s, s + count)
            for i in 0..<count {
                out.storeBytes(of: (T(p0[i]) | T(p1[i]) << 8).littleEndian, toByteOffset: i * width, as: T.self)
            }
        case 4:
            let (p0, p1, p2, p3) = (s, s + count, s + 2 * count, s + 3 * count)
            for i in 0..<count {
                let value = T(p0[i]) | T(p1[i]) << 8 | T(p2[i]) << 16 | T(p3[i]) << 24
                out.storeBytes(of: value.littleEndian, toByteOffset: i * width, as: T.self)
            }
        default:
            let (p0, p1, p2, p3) = (s, s + count, s + 2 * count, s + 3 * count)
            let (p4, p5, p6, p7) = (s + 4 * count, s + 5 * count, s + 6 * count, s + 7 * count)
            for i in 0..<count {
                let low = T(p0[i]) | T(p1[i]) << 8 | T(p2[i]) << 16 | T(p3[i]) << 24
                out.storeBytes(
                    of: (low | T(p4[i]) << 32 | T(p5[i]) << 40 | T(p6[i]) << 48 | T(p7[i]) << 56).littleEndian,
                    toByteOffset: i * width, as: T.self)
            }
        }
    }
}
