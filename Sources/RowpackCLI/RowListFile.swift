import Foundation
import Rowpack

/// A `--rows-file`: row numbers, one per line, read front to back in blocks, so memory stays
/// bounded whatever the list's length, and pipes or FIFOs work too.
///
/// Lines end in `\n` or `\r\n`; blanks around a number and blank lines are ignored. Anything
/// else on a line, a number past the container's rows, or a line longer than
/// ``maxLineBytes`` (such as the endless line of `/dev/zero`) is an error naming the line.
final class RowListFile {
    /// The longest line accepted: far more than any row number with blanks needs.
    static let maxLineBytes = 4096

    let path: String
    private let descriptor: Int32
    /// Rows in the container: every number must be below.
    private let rows: Int
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    /// The unread bytes of `buffer`.
    private var unread = 0..<0
    /// The start of a line that continues past `buffer`.
    private var carried: [UInt8] = []
    private var line = 0
    private var finished = false

    /// Opens the list at `path` for a container of `rows` rows.
    init(path: String, rows: Int) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw RowpackError(
                .io, path: path, "cannot open the row list: \(String(cString: strerror(code)))", errno: code)
        }
        self.path = path
        self.descriptor = descriptor
        self.rows = rows
    }

    deinit { close(descriptor) }

    /// The next row numbers, at most `limit` of them; empty once the list is done.
    func next(limit: Int) throws -> [Int] {
        var numbers: [Int] = []
        numbers.reserveCapacity(min(limit, 1 << 16))
        while numbers.count < limit, !finished {
            if let newline = buffer[unread].firstIndex(of: UInt8(ascii: "\n")) {
                let number: Int?
                if carried.isEmpty {
                    number = try parse(buffer[unread.lowerBound..<newline])
                } else {
                    carried += buffer[unread.lowerBound..<newline]
                    number = try parse(carried[...])
                    carried.removeAll(keepingCapacity: true)
                }
                if let number { numbers.append(number) }
                unread = newline + 1..<unread.upperBound
                continue
            }
            carried += buffer[unread]
            unread = 0..<0
            guard carried.count <= Self.maxLineBytes else {
                throw RowpackError(
                    .invalidArgument, path: path,
                    "line \(line + 1) is longer than \(Self.maxLineBytes) bytes, so it is not a row number")
            }
            if try refill() == 0 {
                finished = true
                if !carried.isEmpty, let number = try parse(carried[...]) { numbers.append(number) }
            }
        }
        return numbers
    }

    /// Reads the next bytes of the file into `buffer`; returns how many (0 at its end).
    private func refill() throws -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count >= 0 {
                unread = 0..<count
                return count
            }
            let code = errno
            if code == EINTR { continue }
            throw RowpackError(
                .io, path: path, "cannot read the row list: \(String(cString: strerror(code)))", errno: code)
        }
    }

    /// The row number on one line (without its `\n`), or `nil` for a blank line.
    private func parse(_ text: ArraySlice<UInt8>) throws -> Int? {
        line += 1
        func isBlank(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
        }
        guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) })
        else {
            return nil
        }
        let field = text[first...last]
        var value = 0
        for byte in field {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw RowpackError(
                    .invalidArgument, path: path, "line \(line): '\(Self.shown(field))' is not a row number")
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2, sum < rows else {
                throw RowpackError(
                    .invalidArgument, path: path,
                    "line \(line): row \(Self.shown(field)) is out of range (the container has \(rows) rows)")
            }
            value = sum
        }
        return value
    }

    /// `field` for a one-line message: printable ASCII as is, other bytes as `\xNN`, at most 40
    /// bytes of it.
    private static func shown(_ field: ArraySlice<UInt8>) -> String {
        let text = field.prefix(40).map { byte in
            (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : String(format: "\\x%02x", byte)
        }.joined()
        return field.count > 40 ? text + "…" : text
    }
}
