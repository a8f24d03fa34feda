/// A numpy data type with a fixed item size, identified by the canonical `descr` text that numpy
/// (≥ 1.24, ≤ 2.4) `np.save` writes for it (`research/npy.md` §1.4).
///
/// Two dtypes are equal exactly when their canonical texts are, so `DType(descr: "'=f4'")`,
/// `DType(numpy: "float32")` and ``float32`` are the same value. Object dtypes are refused: a row
/// must be a fixed number of bytes. Values are immutable and `Sendable`.
public struct DType: Hashable, Sendable, CustomStringConvertible {
    /// The descr literal exactly as `np.save` writes it after `'descr': ` in a header, quotes
    /// included: `'<f4'`, `'|b1'`, `'<M8[ns]'`, `[('x', '<f4'), ('y', '<i8')]`,
    /// `[('pos', '<f4', (3,)), ('id', '<u2')]`, `[(('Title A', 'a'), '<i4')]`, with gaps between
    /// fields spelled as padding fields `('', '|V7')`.
    public let descr: String
    /// Bytes per element (per row cell): the sum of the fields and padding for a structured
    /// dtype. At most ``maximumItemSize``; may be 0 (`'|S0'`, `[]`).
    public let itemSize: Int
    /// The element width a byte-shuffle filter should use: the item size for ints and floats,
    /// half of it for complex numbers, 8 for datetime64/timedelta64, 4 for unicode strings, 1 for
    /// bool, 1-byte ints, bytes and void, and the item size for structured dtypes (at most 65535,
    /// and 1 when the item size is 0).
    public let shuffleElementSize: Int
    /// Whether the dtype has fields (its descr is a list, possibly empty).
    public let isStructured: Bool

    /// The largest item size numpy accepts (its sizes are C `int`s).
    public static let maximumItemSize = Int(Int32.max)

    /// The type string without quotes for a simple dtype (`<f4`), the full ``descr`` for a
    /// structured one.
    public var description: String {
        isStructured ? descr : String(descr.dropFirst().dropLast())
    }

    /// Parses a descr literal as a `.npy` header holds it and canonicalizes it the way numpy's
    /// `descr_to_dtype` followed by `dtype_to_descr` does.
    ///
    /// Accepted: a quoted type string (see ``init(numpy:)``; `'=f4'` becomes `'<f4'`, `'i1'`
    /// becomes `'|i1'`), or a list of `(name, descr)` and `(name, descr, shape)` fields, with
    /// nested lists, `(title, name)` titles and subarray shapes given as an int, tuple or list.
    /// As in numpy, a field named `''` whose type is void (or a subarray) is padding: it is
    /// dropped, its bytes kept, and gaps are written back as `('', '|Vn')` fields.
    ///
    /// Not accepted (numpy would): comma-separated (`'f4,i4'`) and repeat (`'3f4'`) type strings,
    /// top-level or field-level `(descr, shape)` tuples, non-string titles, and the char codes
    /// whose size depends on the platform (`'l'`, `'L'`, `'g'`, `'G'`, `'n'`, `'N'`).
    ///
    /// - Parameter descr: The literal text, e.g. `'<f4'` or `[('x', '<f4'), ('y', '<i8')]`.
    /// - Throws: `FormatError` with code `.invalidDType` for malformed text, unknown types, object
    ///   fields ("object dtype is not supported (rows must be fixed-size)"), duplicate names and
    ///   negative sizes; `.outOfRange` for sizes over ``maximumItemSize``, subarrays of more than
    ///   64 dimensions, or nesting deeper than the literal parser allows.
    /// - Complexity: O(*n*) in the length of `descr`.
    public init(descr: String) throws(FormatError) {
        let literal = try PythonLiteral(parsing: Array(descr.utf8), encoding: .utf8, syntaxError: .invalidDType)
        try self.init(literal: literal)
    }

    /// Canonicalizes a parsed descr literal; see ``init(descr:)``. Errors carry no offset.
    init(literal: PythonLiteral) throws(FormatError) {
        switch literal {
        case .string(let text):
            self.init(try Scalar(parsing: text))
        case .list(let fields):
            let layout = try Self.structure(fields)
            self.init(
                descr: layout.literal.repr, itemSize: layout.itemSize,
                shuffleElementSize: layout.itemSize == 0 ? 1 : min(layout.itemSize, 65535), isStructured: true)
        default:
            throw FormatError(.invalidDType, "descr must be a type string or a list of fields, not \(literal.repr)")
        }
    }

    /// Parses an unquoted numpy type string or name, as the command line takes it.
    ///
    /// Accepted: type strings `[<>=|]` + kind + size (`<f4`, `>i8`, `f4`, `|u1`, `b1`, `?`,
    /// `S5`, `a5`, `U3`, `V7`, `c8`, `M8[ns]`, `m8[25s]`, `<f16` and `<c32` as x86-64 numpy writes
    /// long doubles), the one-letter codes `?bBhHiIqQpPefdFDSaUVMm`,
    /// and numpy names (`bool`, `int8`…`int64`, `uint8`…`uint64`, `float16`…`float64`,
    /// `complex64`, `complex128`, `int`, `float`, `complex`, `str`, `bytes`, `void`,
    /// `datetime64[ns]`, `timedelta64[25s]`, and the C names `byte`, `short`, `intc`, `longlong`,
    /// `half`, `single`, `double`… with their unsigned forms). Sizes of `int`/`intp` assume a
    /// 64-bit platform. Datetime units are `Y M W D h m s ms us ns ps fs as` with an optional
    /// multiplier.
    ///
    /// - Parameter name: The type string, e.g. `<f4`, `float32` or `datetime64[ns]`.
    /// - Throws: `FormatError` with code `.invalidDType` for unknown or object types,
    ///   `.outOfRange` for a size over ``maximumItemSize``.
    /// - Complexity: O(*n*) in the length of `name`.
    public init(numpy name: String) throws(FormatError) {
        self.init(try Scalar(parsing: name))
    }

    /// Whether two dtypes have the same canonical text, compared scalar by scalar: numpy tells
    /// the field names `'é'` and `'e\u0301'` apart, though Swift strings call them equal.
    /// - Complexity: O(*n*) in the length of ``descr``.
    public static func == (lhs: DType, rhs: DType) -> Bool {
        lhs.descr.unicodeScalars.elementsEqual(rhs.descr.unicodeScalars)
    }

    /// Hashes the canonical text scalar by scalar, consistently with `==`.
    /// - Complexity: O(*n*) in the length of ``descr``.
    public func hash(into hasher: inout Hasher) {
        for scalar in descr.unicodeScalars { hasher.combine(scalar) }
    }

    private init(descr: String, itemSize: Int, shuffleElementSize: Int, isStructured: Bool) {
        self.descr = descr
        self.itemSize = itemSize
        self.shuffleElementSize = shuffleElementSize
        self.isStructured = isStructured
    }

    private init(_ scalar: Scalar) {
        self.init(
            descr: PythonLiteral.string(scalar.text).repr, itemSize: scalar.itemSize,
            shuffleElementSize: scalar.shuffleElementSize, isStructured: false)
    }

    /// `'|b1'`.
    public static let bool = DType(Scalar(kind: "b", count: 1))
    /// `'|i1'`.
    public static let int8 = DType(Scalar(kind: "i", count: 1))
    /// `'<i2'`.
    public static let int16 = DType(Scalar(kind: "i", count: 2))
    /// `'<i4'`.
    public static let int32 = DType(Scalar(kind: "i", count: 4))
    /// `'<i8'`.
    public static let int64 = DType(Scalar(kind: "i", count: 8))
    /// `'|u1'`.
    public static let uint8 = DType(Scalar(kind: "u", count: 1))
    /// `'<u2'`.
    public static let uint16 = DType(Scalar(kind: "u", count: 2))
    /// `'<u4'`.
    public static let uint32 = DType(Scalar(kind: "u", count: 4))
    /// `'<u8'`.
    public static let uint64 = DType(Scalar(kind: "u", count: 8))
    /// `'<f2'`.
    public static let float16 = DType(Scalar(kind: "f", count: 2))
    /// `'<f4'`.
    public static let float32 = DType(Scalar(kind: "f", count: 4))
    /// `'<f8'`.
    public static let float64 = DType(Scalar(kind: "f", count: 8))
    /// `'<c8'`.
    public static let complex64 = DType(Scalar(kind: "c", count: 8))
    /// `'<c16'`.
    public static let complex128 = DType(Scalar(kind: "c", count: 16))
}

// MARK: - Structured dtypes

extension DType {
    /// A canonicalized field type: its descr value, its size, and whether numpy would treat an
    /// unnamed field of this type as padding (`dt.type is np.void and dt.names is None`).
    private struct Layout {
        var literal: PythonLiteral
        var itemSize: Int
        var isUnstructuredVoid: Bool
    }

    private static func layout(of value: PythonLiteral) throws(FormatError) -> Layout {
        switch value {
        case .string(let text):
            let scalar = try Scalar(parsing: text)
            return Layout(
                literal: .string(scalar.text), itemSize: scalar.itemSize, isUnstructuredVoid: scalar.kind == "V")
        case .list(let fields):
            return try structure(fields)
        default:
            throw FormatError(.invalidDType, "field type must be a type string or a list of fields, not \(value.repr)")
        }
    }

    /// numpy's `descr_to_dtype` for a field list, then `_array_descr` to write it back.
    private static func structure(_ fields: [PythonLiteral]) throws(FormatError) -> Layout {
        var canonical: [PythonLiteral] = []
        var used: Set<[Unicode.Scalar]> = []  // scalars, not String: numpy does not normalize
        var offset = 0  // where the next field starts, padding included
        var written = 0  // where the last canonical field ends
        for field in fields {
            let parts: [PythonLiteral]
            switch field {
            case .tuple(let items), .list(let items): parts = items
            default: parts = []
            }
            guard parts.count == 2 || parts.count == 3 else {
                throw FormatError(
                    .invalidDType, "a field must be (name, type) or (name, type, shape), not \(field.repr)")
            }
            let (title, name) = try fieldName(parts[0])
            var type = try layout(of: parts[1])
            let shape = parts.count == 3 ? try subarrayShape(parts[2], of: name) : []
            if !shape.isEmpty {
                type.itemSize = try subarraySize(shape, itemSize: type.itemSize, of: name)
                type.isUnstructuredVoid = true  // a subarray dtype's type is np.void
            }
            let start = offset
            guard type.itemSize <= maximumItemSize - offset else {
                throw FormatError(.outOfRange, "structured dtype is larger than \(maximumItemSize) bytes")
            }
            offset += type.itemSize
            if title == nil && name.isEmpty && type.isUnstructuredVoid { continue }  // padding
            for label in [title, name].compactMap({ $0 }) {
                guard used.insert(Array(label.unicodeScalars)).inserted else {
                    throw FormatError(
                        .invalidDType, "field name or title \(PythonLiteral.string(label).repr) is used twice")
                }
            }
            if start > written { canonical.append(padding(start - written)) }
            written = offset
            let label = title.map { PythonLiteral.tuple([.string($0), .string(name)]) } ?? .string(name)
            let shapeItem = shape.isEmpty ? [] : [PythonLiteral.tuple(shape.map(PythonLiteral.int))]
            canonical.append(.tuple([label, type.literal] + shapeItem))
        }
        if offset > written { canonical.append(padding(offset - written)) }
        return Layout(literal: .list(canonical), itemSize: offset, isUnstructuredVoid: false)
    }

    private static func padding(_ count: Int) -> PythonLiteral {
        .tuple([.string(""), .string("|V\(count)")])
    }

    /// `name` or `(title, name)`.
    private static func fieldName(_ value: PythonLiteral) throws(FormatError) -> (title: String?, name: String) {
        switch value {
        case .string(let name): return (nil, name)
        case .tuple(let pair) where pair.count == 2:
            if case .string(let title) = pair[0], case .string(let name) = pair[1] { return (title, name) }
        default: break
        }
        throw FormatError(
            .invalidDType, "a field name must be a string or a (title, name) pair of strings, not \(value.repr)")
    }

    /// An int, tuple or list of non-negative ints that fit a C `int`, at most 64 of them.
    private static func subarrayShape(_ value: PythonLiteral, of name: String) throws(FormatError) -> [Int] {
        let items: [PythonLiteral]
        switch value {
        case .int: items = [value]
        case .tuple(let list), .list(let list): items = list
        default:
            throw FormatError(
                .invalidDType, "shape of field '\(name)' must be an int or a tuple of ints, not \(value.repr)")
        }
        guard items.count <= 64 else {
            throw FormatError(.outOfRange, "field '\(name)' has \(items.count) dimensions; the limit is 64")
        }
        var shape: [Int] = []
        for item in items {
            guard case .int(let dimension) = item, dimension >= 0, dimension <= maximumItemSize else {
                throw FormatError(
                    .invalidDType,
                    "shape \(value.repr) of field '\(name)' is not a tuple of ints in 0...\(maximumItemSize)")
            }
            shape.append(dimension)
        }
        return shape
    }

    /// The size of a subarray field, refused past ``maximumItemSize`` like numpy (which checks
    /// the running product of the dimensions, then the byte size).
    private static func subarraySize(_ shape: [Int], itemSize: Int, of name: String) throws(FormatError) -> Int {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= maximumItemSize else {
                throw FormatError(.outOfRange, "subarray field '\(name)' is larger than \(maximumItemSize) bytes")
            }
            count = product
        }
        let (size, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow, size <= maximumItemSize else {
            throw FormatError(.outOfRange, "subarray field '\(name)' is larger than \(maximumItemSize) bytes")
        }
        return size
    }
}

// MARK: - Simple dtypes

/// A non-structured dtype: kind, byte order, size and (for datetimes) unit.
private struct Scalar {
    /// numpy's kind letter: `b i u f c S U V M m`.
    let kind: Character
    /// `<`, `>` or `|` (order does not apply to 1-byte types, bytes and void).
    let byteOrder: Character
    /// Bytes per item, or characters for `U`.
    let count: Int
    /// `""` or a datetime unit in brackets, `[ns]`, `[25s]`.
    let unit: String

    /// The host's byte order, which numpy writes for `=` (and `|` on multi-byte types).
    static let native: Character = UInt16(1).littleEndian == 1 ? "<" : ">"

    /// A validated kind and size; `=` and `|` mean native order, ignored where order does not apply.
    init(kind: Character, count: Int, byteOrder: Character = "<", unit: String = "") {
        self.kind = kind
        self.count = count
        self.unit = unit
        let orderless = "bSV".contains(kind) || (count == 1 && "iu".contains(kind))
        self.byteOrder = orderless ? "|" : byteOrder == "=" || byteOrder == "|" ? Scalar.native : byteOrder
    }

    var itemSize: Int { kind == "U" ? count * 4 : count }
    var text: String { "\(byteOrder)\(kind)\(count)\(unit)" }

    var shuffleElementSize: Int {
        switch kind {
        case "c": count / 2
        case "U": 4
        case "i", "u", "f", "M", "m": count
        default: 1
        }
    }

    /// numpy names, mapped to the type string they stand for.
    private static let names: [Substring: String] = [
        "bool": "?", "bool_": "?",
        "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8",
        "byte": "i1", "short": "i2", "intc": "i4", "longlong": "i8", "int": "i8", "int_": "i8", "intp": "i8",
        "uint8": "u1", "uint16": "u2", "uint32": "u4", "uint64": "u8",
        "ubyte": "u1", "ushort": "u2", "uintc": "u4", "ulonglong": "u8", "uint": "u8", "uintp": "u8",
        "float16": "f2", "float32": "f4", "float64": "f8", "half": "f2", "single": "f4", "double": "f8", "float": "f8",
        "complex64": "c8", "complex128": "c16", "csingle": "c8", "cdouble": "c16", "complex": "c16",
        "bytes": "S", "bytes_": "S", "str": "U", "str_": "U", "unicode": "U", "void": "V",
        "datetime64": "M8", "timedelta64": "m8", "object": "O", "object_": "O",
    ]

    /// One-letter codes used without a size, mapped to the kind and size they stand for.
    private static let codes: [Character: (kind: Character, count: Int)] = [
        "?": ("b", 1), "b": ("i", 1), "B": ("u", 1), "h": ("i", 2), "H": ("u", 2), "i": ("i", 4), "I": ("u", 4),
        "q": ("i", 8), "Q": ("u", 8), "p": ("i", 8), "P": ("u", 8), "e": ("f", 2), "f": ("f", 4), "d": ("f", 8),
        "F": ("c", 8), "D": ("c", 16), "S": ("S", 0), "a": ("S", 0), "U": ("U", 0), "V": ("V", 0),
        "M": ("M", 8), "m": ("m", 8),
    ]

    /// Datetime unit spellings, mapped to numpy's canonical ones.
    private static let units: [Substring: String] = [
        "Y": "Y", "M": "M", "W": "W", "D": "D", "h": "h", "m": "m", "s": "s",
        "ms": "ms", "us": "us", "μs": "us", "ns": "ns", "ps": "ps", "fs": "fs", "as": "as",
    ]

    /// Parses what `np.dtype(text)` accepts for a simple type; see `DType.init(numpy:)`.
    init(parsing text: String) throws(FormatError) {
        let quoted = PythonLiteral.string(text).repr
        func invalid(_ why: String) -> FormatError {
            FormatError(.invalidDType, "\(quoted) is not a supported dtype (\(why))")
        }
        var rest = Substring(text)
        let bracket = rest.firstIndex(of: "[") ?? rest.endIndex
        if let alias = Self.names[rest[..<bracket]] {
            rest = Substring(alias) + rest[bracket...]
        }
        var byteOrder = Self.native
        if let first = rest.first, "<>=|".contains(first) {
            byteOrder = first
            rest.removeFirst()
        }
        guard let letter = rest.popFirst() else { throw invalid("no type letter") }
        guard letter != "O" else {
            throw FormatError(.invalidDType, "object dtype is not supported (rows must be fixed-size)")
        }
        let digits = rest.prefix(while: { $0.isASCII && $0.isWholeNumber })
        rest = rest.dropFirst(digits.count)
        let kind: Character
        let count: Int
        if digits.isEmpty {
            guard let code = Self.codes[letter] else { throw invalid("unknown type") }
            (kind, count) = code
        } else {
            guard let value = Int(digits), value <= DType.maximumItemSize else {
                throw FormatError(.outOfRange, "\(quoted) is larger than \(DType.maximumItemSize) bytes")
            }
            switch letter {
            case "b" where value == 1: kind = "b"
            case "a": kind = "S"
            case "i", "u", "f", "c", "S", "U", "V", "M", "m": kind = letter
            default: throw invalid("unknown type")
            }
            count = value
        }
        switch kind {
        case "i", "u": guard [1, 2, 4, 8].contains(count) else { throw invalid("no such size") }
        case "f": guard [2, 4, 8, 16].contains(count) else { throw invalid("no such size") }
        case "c": guard [8, 16, 32].contains(count) else { throw invalid("no such size") }
        case "M", "m": guard count == 8 else { throw invalid("no such size") }
        case "U":
            guard count <= DType.maximumItemSize / 4 else {
                throw FormatError(.outOfRange, "\(quoted) is larger than \(DType.maximumItemSize) bytes")
            }
        default: break
        }
        var unit = ""
        if !rest.isEmpty, kind == "M" || kind == "m", !digits.isEmpty {
            unit = try Self.unit(rest, invalid: invalid)
            rest = ""
        }
        guard rest.isEmpty else { throw invalid("unexpected \(PythonLiteral.string(String(rest)).repr)") }
        self.init(kind: kind, count: count, byteOrder: byteOrder, unit: unit)
    }

    /// `[unit]` or `[Nunit]` with 0 ≤ N ≤ 2^31 − 1; canonical `[unit]` when N is 1, `""` for generic.
    private static func unit(_ text: Substring, invalid: (String) -> FormatError) throws(FormatError) -> String {
        guard text.first == "[", text.last == "]", text.count >= 3 else { throw invalid("bad datetime unit") }
        let inner = text.dropFirst().dropLast()
        let digits = inner.prefix(while: { $0.isASCII && $0.isWholeNumber })
        let name = inner.dropFirst(digits.count)
        if name == "generic" { return "" }
        guard let unit = units[name] else { throw invalid("bad datetime unit") }
        guard !digits.isEmpty else { return "[\(unit)]" }
        guard let multiplier = Int32(digits) else { throw invalid("datetime multiplier too large") }
        return multiplier == 1 ? "[\(unit)]" : "[\(multiplier)\(unit)]"
    }
}
