/// A value of the Python literal subset that `.npy` headers are written in, with a parser for
/// untrusted text and a renderer that reproduces CPython's `repr()` byte for byte.
///
/// numpy writes a header with `repr()` and reads it with `ast.literal_eval`
/// (`research/npy.md` §1.2, §1.5). This type covers what those headers hold: dicts, lists,
/// tuples, strings, ints and booleans.
///
/// The parser accepts, like `ast.literal_eval`: single- and double-quoted strings with the escapes
/// `\\ \' \" \n \r \t \xhh \uhhhh \Uhhhhhhhh`; decimal ints with an optional sign (and, for
/// Python-2 headers, an `L` suffix); `True` and `False`; trailing commas; parentheses used for
/// grouping (`(3)` is the int 3); and the whitespace Python allows between tokens (space, tab,
/// `\n`, `\r`, form feed). It refuses, where `literal_eval` would accept: floats, complex numbers,
/// `None`, bytes, sets, string prefixes and implicit concatenation, the escapes `\a \b \f \v`,
/// octal, `\N{…}` and unknown escapes, hex/octal/binary ints and `_` digit separators, lone
/// surrogates, comments and backslash line continuations — none of which a numpy header contains.
///
/// Parsing never traps: nesting is limited to ``maximumDepth``, the text to ``maximumLength``
/// bytes, and ints to the range of `Int`.
///
/// Equality is for tests: strings compare as Swift strings do, by canonical equivalence.
enum PythonLiteral: Equatable, Sendable {
    /// A `str`.
    case string(String)
    /// An `int` that fits in `Int`.
    case int(Int)
    /// `True` or `False`.
    case bool(Bool)
    /// A tuple, `(a, b)`.
    case tuple([PythonLiteral])
    /// A list, `[a, b]`.
    case list([PythonLiteral])
    /// A dict, in source order; duplicate keys are kept (callers decide).
    case dict([Entry])

    /// One `key: value` pair of a dict.
    struct Entry: Equatable, Sendable {
        var key: PythonLiteral
        var value: PythonLiteral
        /// Byte offset of the value in the parsed text, so callers can point errors at it.
        var valueOffset: Int
    }

    /// How the bytes of the text map to characters: `.npy` v1/v2 headers are latin-1, v3 UTF-8.
    enum Encoding: Sendable {
        case latin1, utf8
    }

    /// The deepest nesting of containers the parser accepts.
    static let maximumDepth = 32
    /// The longest text, in bytes, the parser accepts.
    static let maximumLength = 1 << 20

    /// Parses one literal that fills `bytes[range]`, surrounded by optional whitespace.
    ///
    /// - Parameters:
    ///   - bytes: The text.
    ///   - range: The part of `bytes` to parse; all of it by default. Error offsets are indices
    ///     into `bytes`.
    ///   - encoding: How to decode the bytes of string literals.
    ///   - allowsLongSuffix: Accept the Python-2 `L` suffix on ints (`6L`), as numpy does for v1
    ///     and v2 headers.
    ///   - syntaxError: The error code for malformed text (`.invalidNpyHeader`, `.invalidDType`).
    /// - Throws: `syntaxError` for malformed text; `.outOfRange` for text longer than
    ///   ``maximumLength``, nesting deeper than ``maximumDepth`` or an int outside `Int`.
    /// - Complexity: O(*n*) in the length of the text.
    init(
        parsing bytes: [UInt8],
        in range: Range<Int>? = nil,
        encoding: Encoding,
        allowsLongSuffix: Bool = false,
        syntaxError: FormatError.Code
    ) throws(FormatError) {
        let range = range ?? bytes.indices
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw FormatError(.outOfRange, "literal range \(range) is outside \(bytes.count) bytes")
        }
        guard range.count <= Self.maximumLength else {
            throw FormatError(
                .outOfRange, at: range.lowerBound,
                "literal text of \(range.count) bytes exceeds the limit \(Self.maximumLength)")
        }
        var parser = Parser(
            bytes: bytes, position: range.lowerBound, end: range.upperBound, encoding: encoding,
            allowsLongSuffix: allowsLongSuffix, syntaxError: syntaxError)
        self = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.end else {
            throw parser.error("unexpected \(parser.describeNext()) after the value")
        }
    }

    /// The text CPython's `repr()` gives for this value.
    ///
    /// Strings are single-quoted unless they contain `'` and no `"`; `\\`, `\n`, `\r`, `\t` and
    /// the quote are escaped, and so is every character that is not printable by
    /// `str.isprintable()` (general categories Cc, Cf, Cs, Co, Cn, Zl, Zp, and Zs other than the
    /// ASCII space), as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`. Printability follows the Unicode
    /// version of the Swift runtime, which can differ from the Python's for characters assigned
    /// in recent Unicode versions.
    ///
    /// - Complexity: O(*n*) in the length of the result.
    var repr: String {
        switch self {
        case .string(let text): return Self.repr(text)
        case .int(let value): return String(value)
        case .bool(let value): return value ? "True" : "False"
        case .tuple(let items) where items.count == 1: return "(\(items[0].repr),)"
        case .tuple(let items): return "(" + items.map(\.repr).joined(separator: ", ") + ")"
        case .list(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let entries):
            return "{" + entries.map { "\($0.key.repr): \($0.value.repr)" }.joined(separator: ", ") + "}"
        }
    }

    private static func repr(_ text: String) -> String {
        let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case quote, "\\":
                out.append("\\")
                out.append(scalar)
            case "\t": out.append(contentsOf: #"\t"#.unicodeScalars)
            case "\n": out.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": out.append(contentsOf: #"\r"#.unicodeScalars)
            default:
                if isPrintable(scalar) {
                    out.append(scalar)
                } else {
                    let (prefix, digits) =
                        scalar.value < 0x100 ? ("x", 2) : scalar.value < 0x1_0000 ? ("u", 4) : ("U", 8)
                    let hex = String(scalar.value, radix: 16)
                    out.append(
                        contentsOf: "\\\(prefix)\(String(repeating: "0", count: digits - hex.count))\(hex)"
                            .unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    /// CPython's `Py_UNICODE_ISPRINTABLE`: everything except "Other" and "Separator" characters,
    /// the ASCII space excepted.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            return false
        case .spaceSeparator:
            return scalar == " "
        default:
            return true
        }
    }
}

/// A recursive-descent parser over `bytes[position..<end]`. Every read is checked against `end`.
private struct Parser {
    let bytes: [UInt8]
    var position: Int
    let end: Int
    let encoding: PythonLiteral.Encoding
    let allowsLongSuffix: Bool
    let syntaxError: FormatError.Code

    private var next: UInt8? { position < end ? bytes[position] : nil }

    func error(_ detail: String, at offset: Int? = nil) -> FormatError {
        FormatError(syntaxError, at: offset ?? position, detail)
    }

    func describeNext() -> String {
        guard let byte = next else { return "end of text" }
        return (0x21...0x7E).contains(byte) ? "'\(Unicode.Scalar(byte))'" : "byte 0x\(String(byte, radix: 16))"
    }

    mutating func skipWhitespace() {
        // Python's token separators: space, tab, form feed, and the line ends \n and \r.
        while let byte = next, byte == 0x20 || byte == 0x09 || byte == 0x0C || byte == 0x0A || byte == 0x0D {
            position += 1
        }
    }

    mutating func value(depth: Int) throws(FormatError) -> PythonLiteral {
        skipWhitespace()
        switch next ?? 0 {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "("): return try tuple(depth: depth + 1)
        case UInt8(ascii: "["):
            return .list(
                try items(closing: "]", depth: depth + 1) { (p, d) throws(FormatError) in try p.value(depth: d) })
        case UInt8(ascii: "{"):
            return .dict(
                try items(closing: "}", depth: depth + 1) { (p, d) throws(FormatError) in try p.entry(depth: d) })
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try int())
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"):
            let start = position
            let name = identifier()
            switch name {
            case "True": return .bool(true)
            case "False": return .bool(false)
            default: throw error("unsupported name '\(name)' (expected a literal)", at: start)
            }
        default:
            throw error("expected a value, found \(describeNext())")
        }
    }

    /// Opens a container, checking the depth limit.
    private mutating func open(depth: Int) throws(FormatError) {
        guard depth <= PythonLiteral.maximumDepth else {
            throw FormatError(
                .outOfRange, at: position, "literal nested deeper than \(PythonLiteral.maximumDepth) levels")
        }
        position += 1
    }

    /// `( )`, `(a,)`, `(a, b, )`, or `(a)`, which is just `a`.
    private mutating func tuple(depth: Int) throws(FormatError) -> PythonLiteral {
        try open(depth: depth)
        skipWhitespace()
        if next == UInt8(ascii: ")") {
            position += 1
            return .tuple([])
        }
        let first = try value(depth: depth)
        skipWhitespace()
        if next == UInt8(ascii: ")") {
            position += 1
            return first
        }
        try expect(",", after: "a tuple item")
        return .tuple(
            [first] + (try rest(closing: ")", depth: depth) { (p, d) throws(FormatError) in try p.value(depth: d) }))
    }

    /// The items of a list or dict, after the opening bracket.
    private mutating func items<T>(
        closing: Unicode.Scalar, depth: Int, _ item: (inout Parser, Int) throws(FormatError) -> T
    ) throws(FormatError) -> [T] {
        try open(depth: depth)
        return try rest(closing: closing, depth: depth, item)
    }

    /// Zero or more `item ,` then the closing bracket, or `item, item` without trailing comma.
    private mutating func rest<T>(
        closing: Unicode.Scalar, depth: Int, _ item: (inout Parser, Int) throws(FormatError) -> T
    ) throws(FormatError) -> [T] {
        var result: [T] = []
        while true {
            skipWhitespace()
            if next == UInt8(ascii: closing) {
                position += 1
                return result
            }
            result.append(try item(&self, depth))
            skipWhitespace()
            if next == UInt8(ascii: closing) {
                position += 1
                return result
            }
            try expect(",", after: "an item (or '\(closing)')")
        }
    }

    private mutating func entry(depth: Int) throws(FormatError) -> PythonLiteral.Entry {
        let key = try value(depth: depth)
        skipWhitespace()
        try expect(":", after: "a dict key")
        skipWhitespace()
        let offset = position
        return PythonLiteral.Entry(key: key, value: try value(depth: depth), valueOffset: offset)
    }

    private mutating func expect(_ scalar: Unicode.Scalar, after what: String) throws(FormatError) {
        guard next == UInt8(ascii: scalar) else {
            throw error("expected '\(scalar)' after \(what), found \(describeNext())")
        }
        position += 1
    }

    private mutating func identifier() -> String {
        let start = position
        while let byte = next, Self.isIdentifierByte(byte) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// `[+-] digits [L]`, accumulated negatively so that `Int.min` parses.
    private mutating func int() throws(FormatError) -> Int {
        let start = position
        var negative = false
        if next == UInt8(ascii: "-") || next == UInt8(ascii: "+") {
            negative = next == UInt8(ascii: "-")
            position += 1
            skipWhitespace()
        }
        let digitsStart = position
        var value = 0
        var overflow = false
        while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.subtractingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            value = sum
            position += 1
        }
        guard position > digitsStart else { throw error("expected digits, found \(describeNext())") }
        if bytes[digitsStart] == UInt8(ascii: "0"),
            bytes[digitsStart..<position].contains(where: { $0 != UInt8(ascii: "0") })
        {
            throw error("leading zeros in decimal integer literals are not permitted", at: digitsStart)
        }
        if allowsLongSuffix, next == UInt8(ascii: "L") {
            position += 1
        }
        if let byte = next, Self.isIdentifierByte(byte) || byte == UInt8(ascii: ".") {
            throw error("unsupported number syntax \(describeNext()) (only decimal ints are allowed)")
        }
        if !negative {
            let (positive, o) = (0 as Int).subtractingReportingOverflow(value)
            value = positive
            overflow = overflow || o
        }
        guard !overflow else {
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            throw FormatError(.outOfRange, at: start, "integer \(text) does not fit in 64 bits")
        }
        return value
    }

    private mutating func string() throws(FormatError) -> String {
        let start = position
        let quote = bytes[position]
        position += 1
        var text = String.UnicodeScalarView()
        var runStart = position
        while true {
            guard let byte = next, byte != 0x0A, byte != 0x0D else {
                throw error("unterminated string literal", at: start)
            }
            guard byte != 0 else { throw error("NUL byte in a string literal") }
            if byte != quote && byte != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            try appendRun(from: runStart, to: &text)
            if byte == quote {
                position += 1
                return String(text)
            }
            text.append(try escape())
            runStart = position
        }
    }

    /// Appends the raw (unescaped) bytes `bytes[from..<position]`, decoded.
    private func appendRun(from start: Int, to text: inout String.UnicodeScalarView) throws(FormatError) {
        let run = bytes[start..<position]
        switch encoding {
        case .latin1:
            text.append(contentsOf: run.lazy.map { Unicode.Scalar($0) })
        case .utf8:
            guard let decoded = String(validating: run, as: UTF8.self) else {
                throw error("invalid UTF-8 in a string literal", at: start)
            }
            text.append(contentsOf: decoded.unicodeScalars)
        }
    }

    private mutating func escape() throws(FormatError) -> Unicode.Scalar {
        let start = position
        position += 1
        guard let byte = next else { throw error("unterminated string literal", at: start) }
        position += 1
        let digits: Int
        switch byte {
        case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): return Unicode.Scalar(byte)
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default: throw error("unsupported escape sequence '\\\(Unicode.Scalar(byte))'", at: start)
        }
        guard digits <= end - position else { throw error("truncated \\\(Unicode.Scalar(byte)) escape", at: start) }
        var value: UInt32 = 0
        for hexByte in bytes[position..<position + digits] {
            guard let digit = Self.hexValue(hexByte) else {
                throw error("truncated \\\(Unicode.Scalar(byte)) escape", at: start)
            }
            value = value << 4 | digit
        }
        position += digits
        guard let scalar = Unicode.Scalar(value) else {
            throw error("escape \\\(Unicode.Scalar(byte)) of \(value) is not a Unicode scalar value", at: start)
        }
        return scalar
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
