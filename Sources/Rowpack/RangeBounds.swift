/// A half-open range whose ends may be left open, as written on a command line: `A:B`, `A:`,
/// `:B` or `:` (Python's slice syntax without steps or negative numbers).
///
/// Parsing never builds a `Range`; ``resolved(length:)`` does, only once both ends are known to
/// lie in order inside `0...length`, so no input (`11:` against 10 rows, `Int.max:`) can trap.
public struct RangeBounds: Hashable, Sendable {
    /// The first index, or `nil` for 0.
    public var lower: Int?
    /// The index after the last, or `nil` for the length it is resolved against.
    public var upper: Int?

    /// Bounds with the given ends; `nil` leaves an end open.
    public init(lower: Int? = nil, upper: Int? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// Parses `A:B`, `A:`, `:B` or `:` with non-negative decimal `A` and `B`; `nil` for anything
    /// else, including `B < A`.
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        func end(_ part: some StringProtocol) -> Int?? {
            guard !part.isEmpty else { return .some(nil) }
            guard part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber), let value = Int(part) else { return nil }
            return .some(value)
        }
        guard let lower = end(parts[0]), let upper = end(parts[1]) else { return nil }
        if let lower, let upper, upper < lower { return nil }
        self.init(lower: lower, upper: upper)
    }

    /// The range these bounds select in `0..<length`, or `nil` when an end is negative, past
    /// `length`, or the ends are out of order.
    ///
    /// - Complexity: O(1).
    public func resolved(length: Int) -> Range<Int>? {
        let lower = self.lower ?? 0
        let upper = self.upper ?? length
        guard lower >= 0, lower <= upper, upper <= length else { return nil }
        return lower..<upper
    }
}

extension RangeBounds: CustomStringConvertible {
    /// `A:B` with open ends left empty.
    public var description: String { "\(lower.map(String.init) ?? ""):\(upper.map(String.init) ?? "")" }
}
