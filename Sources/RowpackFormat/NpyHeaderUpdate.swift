/// A plan to rewrite a `.npy` header in place, from its current bytes to new bytes of the same
/// length, such that a power loss at any moment leaves a header numpy reads as the old or the
/// new array, whichever of its 512-byte sectors reached the disk (4 KiB sectors and pages are
/// unions of 512-byte ones, so they follow).
///
/// The writes of ``steps`` must be made in order, each synced before the next:
/// - when every byte that differs lies in one sector, one write of that sector (a sector is
///   written whole or not at all);
/// - when the differing bytes straddle a sector boundary (the shape's digits of a header longer
///   than a sector), three writes of one sector each: first the second sector gets the old
///   text's continuation plus a duplicate entry `'shape':(NEW)` (Python keeps the last of
///   duplicate keys and numpy checks only the key set, so that header already reads as the new
///   array, whichever first sector it follows), then the first sector gets its new bytes
///   (the first `shape` is now a mix, but the duplicate still decides), then the second sector
///   gets its canonical new bytes;
/// - otherwise no plan exists (``init(from:to:)`` returns `nil`) and the caller must replace
///   the file atomically instead.
///
/// Each state the plan passes through is parsed with ``NpyHeader/init(parsing:)`` before the
/// plan is returned; since every step changes one sector, those states are all the mixes a
/// crash can leave. Values are immutable and `Sendable`.
public struct NpyHeaderUpdate: Sendable {
    /// One write: `bytes` at byte `offset` of the file.
    public struct Step: Equatable, Sendable {
        /// Where the write starts, a multiple of ``NpyHeaderUpdate/sectorSize``.
        public let offset: Int
        /// What it writes: at most one sector.
        public let bytes: [UInt8]
    }

    /// The sector size of the crash model: writes are atomic per 512-byte aligned sector.
    public static let sectorSize = 512

    /// The writes, in order; sync after each. Empty when the headers are equal.
    public let steps: [Step]

    /// Plans the rewrite of header `old` into `new`.
    ///
    /// - Parameters:
    ///   - old: The header bytes the file holds now (``NpyHeader/dataOffset`` bytes).
    ///   - new: The header bytes to end with, of the same length.
    /// - Returns: `nil` if no plan of at most three one-sector writes keeps every state
    ///   readable as the old or the new array (the differing bytes span more than two sectors,
    ///   or the header's padding has no room for the duplicate entry).
    /// - Throws: `FormatError` if `old` or `new` is not a header or their lengths differ.
    /// - Complexity: O(*n*) in the header length, times the few candidates tried when the
    ///   change straddles a sector boundary.
    public init?(from old: [UInt8], to new: [UInt8]) throws(FormatError) {
        let before = try NpyHeader(parsing: old)
        let after = try NpyHeader(parsing: new)
        guard old.count == before.dataOffset, new.count == after.dataOffset, old.count == new.count else {
            throw FormatError(
                .invalidNpyHeader,
                "a header is rewritten in place at the same length: \(old.count) → \(new.count) bytes")
        }
        let size = Self.sectorSize
        let changed = stride(from: 0, to: old.count, by: size).map { $0 / size }.filter { sector in
            let range = Self.sector(sector, in: old.count)
            return old[range] != new[range]
        }
        func write(_ sector: Int, of bytes: [UInt8]) -> Step {
            Step(offset: sector * size, bytes: Array(bytes[Self.sector(sector, in: bytes.count)]))
        }
        switch changed.count {
        case 0:
            steps = []
        case 1:
            steps = [write(changed[0], of: new)]
        case 2 where changed[1] == changed[0] + 1:
            let first = changed[0]
            guard let middle = Self.straddlingIntermediate(from: old, to: new, secondSector: first + 1, reading: after)
            else { return nil }
            steps = [write(first + 1, of: middle), write(first, of: new), write(first + 1, of: new)]
        default:
            return nil
        }
    }

    /// Byte range of sector `index` of a header of `length` bytes.
    private static func sector(_ index: Int, in length: Int) -> Range<Int> {
        index * sectorSize..<min(length, (index + 1) * sectorSize)
    }

    /// The first intermediate header of a straddling rewrite: `old` with sector `second` replaced
    /// so that it reads as `target` after the old **and** after the new sector before it. The
    /// sector starts with a continuation of the text before it (taken from the old or the new
    /// text: up to a `)` or `,`, or nothing), then a duplicate `shape` entry and `}`, then spaces
    /// up to the header's final newline. The first candidate whose two states both parse as
    /// `target` wins.
    private static func straddlingIntermediate(
        from old: [UInt8], to new: [UInt8], secondSector second: Int, reading target: NpyHeader
    ) -> [UInt8]? {
        let range = sector(second, in: old.count)
        let textEnd = old.count - 1  // the final "\n" stays
        guard range.lowerBound < textEnd else { return nil }
        let shape = target.shape.map(String.init).joined(separator: ",")
        let duplicate = Array("'shape':(\(shape)\(target.shape.count == 1 ? "," : ""))}".utf8)
        for source in [old, new] {
            // Continuations end after a ')' or ',' before the source's closing '}'.
            var lengths = [0]
            var index = range.lowerBound
            while index < range.upperBound, index < textEnd, source[index] != UInt8(ascii: "}") {
                if source[index] == UInt8(ascii: ")") || source[index] == UInt8(ascii: ",") {
                    lengths.append(index + 1 - range.lowerBound)
                }
                index += 1
            }
            for length in lengths {
                for separator in [[], [UInt8(ascii: ",")]] {
                    let text = source[range.lowerBound..<range.lowerBound + length] + separator + duplicate
                    let fill = min(range.upperBound, textEnd) - range.lowerBound
                    guard text.count <= fill else { continue }
                    var middle = old
                    middle.replaceSubrange(
                        range.lowerBound..<range.lowerBound + fill,
                        with: text + repeatElement(UInt8(ascii: " "), count: fill - text.count))
                    var mixed = new
                    mixed.replaceSubrange(range, with: middle[range])
                    if reads(middle, as: target) && reads(mixed, as: target) { return middle }
                }
            }
        }
        return nil
    }

    /// Whether `bytes` parse as a header describing the same array as `target`.
    private static func reads(_ bytes: [UInt8], as target: NpyHeader) -> Bool {
        guard let header = try? NpyHeader(parsing: bytes) else { return false }
        return header.shape == target.shape && header.dtype == target.dtype
            && header.fortranOrder == target.fortranOrder && header.dataOffset == target.dataOffset
    }
}
