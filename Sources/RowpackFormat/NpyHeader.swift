/// The header of a `.npy` file: magic, version, length, and the Python-literal dict that gives
/// the dtype, the memory order and the shape (`research/npy.md` §1).
///
/// ``init(parsing:)`` reads what numpy's `np.load` reads (any key order, either quote style,
/// optional trailing comma and padding, Python-2 `L` suffixes in v1/v2), and
/// ``canonical(dtype:shape:fortranOrder:)`` writes exactly what numpy ≥ 1.24 `np.save` writes,
/// including the 21-digit growth space that lets a header be rewritten in place
/// (``withShape(_:)``) as rows are appended. Values are immutable and `Sendable`.
public struct NpyHeader: Hashable, Sendable {
    /// The element type.
    public let dtype: DType
    /// Whether the data is in Fortran (column-major) order rather than C (row-major) order.
    public let fortranOrder: Bool
    /// The array shape; `[]` for a 0-d array, which holds one element.
    public let shape: [Int]
    /// The format version: 1, 2 or 3 (the minor version is always 0).
    public let version: UInt8
    /// Bytes before the data: the magic, the version, the length field and `HEADER_LEN`.
    public let dataOffset: Int
    /// Bytes of data the shape describes: the product of the shape times the item size.
    public let dataByteCount: Int
    /// Bytes of one row (an axis-0 slice): the item size times the product of ``rowShape``;
    /// the item size for 1-d and 0-d arrays. Checked when parsed, so it fits in `Int` even when
    /// the data is empty (shape `(0, 2**40, 2**40)`).
    public let rowBytes: Int

    /// The largest header (``dataOffset``) this type reads or writes: 1 MiB.
    ///
    /// numpy itself reads at most 10,000 characters unless told otherwise, but writes more for
    /// dtypes with many fields (600 fields named `f0`… take 10,176 bytes); 1 MiB holds about
    /// 50,000 such fields.
    public static let maximumHeaderLength = 1 << 20

    /// The most dimensions numpy supports.
    public static let maximumDimensions = 64

    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
    private static let keys: Set = ["descr", "fortran_order", "shape"]

    /// The shape without axis 0: the shape of one row. `[]` for 1-d and 0-d arrays.
    public var rowShape: [Int] { Array(shape.dropFirst()) }

    /// The length of axis 0, or 1 for a 0-d array (its single element counts as one row of shape
    /// `[]`), so that `dataByteCount == rows × rowShape.product × itemSize` always holds. For a
    /// Fortran-order array the rows are not contiguous in the data.
    public var rows: Int { shape.first ?? 1 }

    /// Validates the fixed-size prefix of a `.npy` file and returns the header's total length.
    ///
    /// - Parameter prefix: The first bytes of the file: at least 10 for version 1, 12 for
    ///   versions 2 and 3 (more are ignored).
    /// - Returns: The data offset: 10 or 12 plus the `HEADER_LEN` field.
    /// - Throws: `FormatError` with code `.truncated` if `prefix` is too short, `.badMagic` if it
    ///   does not start with `\x93NUMPY`, `.unsupportedVersion` for a version other than 1.0, 2.0
    ///   or 3.0, `.outOfRange` if the length exceeds ``maximumHeaderLength``.
    /// - Complexity: O(1).
    public static func headerLength(prefix: some Collection<UInt8>) throws(FormatError) -> Int {
        let bytes = Array(prefix.prefix(12))
        guard bytes.count >= 8 else {
            throw FormatError(.truncated, at: bytes.count, ".npy header needs at least 10 bytes, got \(bytes.count)")
        }
        guard bytes.starts(with: magic) else {
            throw FormatError(.badMagic, at: 0, "not a .npy file: the first bytes are not \\x93NUMPY")
        }
        guard (1...3).contains(bytes[6]), bytes[7] == 0 else {
            throw FormatError(
                .unsupportedVersion, at: 6, ".npy format version \(bytes[6]).\(bytes[7]) is not 1.0, 2.0 or 3.0")
        }
        let fieldEnd = bytes[6] == 1 ? 10 : 12
        guard bytes.count >= fieldEnd else {
            throw FormatError(
                .truncated, at: bytes.count, ".npy header needs at least \(fieldEnd) bytes, got \(bytes.count)")
        }
        var reader = ByteReader(bytes, from: 8, to: fieldEnd)
        let length = fieldEnd == 10 ? Int(try reader.read(UInt16.self)) : Int(try reader.read(UInt32.self))
        guard length <= maximumHeaderLength - fieldEnd else {
            throw FormatError(
                .outOfRange, at: 8, ".npy HEADER_LEN \(length) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        return fieldEnd + length
    }

    /// Parses a `.npy` header as numpy's `_read_array_header` does.
    ///
    /// The text must be a dict with exactly the keys `descr`, `fortran_order` and `shape`, in
    /// any order, with either quote style, optional trailing comma and any whitespace or padding
    /// (none at all is fine). `shape` is a tuple of at most 64 non-negative ints, `fortran_order`
    /// is `True` or `False` (not 0 or 1), and `descr` is anything ``DType/init(descr:)`` takes.
    /// Text is latin-1 for versions 1 and 2, UTF-8 for version 3; the Python-2 `L` suffix on
    /// ints is accepted in versions 1 and 2 only. Anything but whitespace after the dict is
    /// refused. A key given twice takes its last value, as in Python (`ast.literal_eval`), which
    /// numpy uses: only the key set is checked, and the values of earlier duplicates only have
    /// to be literals. In-place header rewrites rely on this (``NpyHeaderUpdate``).
    ///
    /// - Parameter bytes: The start of the file, holding at least the whole header.
    /// - Throws: `FormatError` with the byte offset of the problem: the codes of
    ///   ``headerLength(prefix:)``, `.truncated` if `bytes` ends inside the header,
    ///   `.invalidNpyHeader` for malformed text, keys or values, `.invalidDType` for a bad
    ///   descr, `.outOfRange` for giant ints, deep nesting, or data or a row larger than
    ///   `Int.max` bytes.
    /// - Complexity: O(*n*) in the header length.
    public init(parsing bytes: [UInt8]) throws(FormatError) {
        let length = try Self.headerLength(prefix: bytes)
        guard bytes.count >= length else {
            throw FormatError(
                .truncated, at: bytes.count, ".npy header is \(length) bytes, only \(bytes.count) available")
        }
        let version = bytes[6]
        let text = (version == 1 ? 10 : 12)..<length
        let literal = try PythonLiteral(
            parsing: bytes, in: text, encoding: version == 3 ? .utf8 : .latin1, allowsLongSuffix: version < 3,
            syntaxError: .invalidNpyHeader)
        guard case .dict(let entries) = literal else {
            throw FormatError(.invalidNpyHeader, at: text.lowerBound, ".npy header is not a dict: \(literal.repr)")
        }
        var values: [String: PythonLiteral.Entry] = [:]
        for entry in entries {
            guard case .string(let key) = entry.key, Self.keys.contains(key) else {
                throw FormatError(
                    .invalidNpyHeader, at: entry.valueOffset, ".npy header has an unexpected key \(entry.key.repr)")
            }
            values[key] = entry
        }
        guard let descr = values["descr"], let order = values["fortran_order"], let shape = values["shape"] else {
            let missing = Self.keys.subtracting(values.keys).sorted()
            throw FormatError(.invalidNpyHeader, at: text.lowerBound, ".npy header lacks the keys \(missing)")
        }
        guard case .bool(let fortranOrder) = order.value else {
            throw FormatError(
                .invalidNpyHeader, at: order.valueOffset, "fortran_order is not True or False: \(order.value.repr)")
        }
        let dims = try Self.locating(at: shape.valueOffset) { () throws(FormatError) in
            guard case .tuple(let items) = shape.value else {
                throw FormatError(.invalidNpyHeader, "shape is not a tuple: \(shape.value.repr)")
            }
            return try items.map { (item) throws(FormatError) in
                guard case .int(let dim) = item else {
                    throw FormatError(.invalidNpyHeader, "shape \(shape.value.repr) holds a non-int \(item.repr)")
                }
                return dim
            }
        }
        self.dtype = try Self.locating(at: descr.valueOffset) { () throws(FormatError) in
            try DType(literal: descr.value)
        }
        self.dataByteCount = try Self.locating(at: shape.valueOffset) { [dtype] () throws(FormatError) in
            try Self.byteCount(shape: dims, itemSize: dtype.itemSize)
        }
        self.rowBytes = try Self.locating(at: shape.valueOffset) { [dtype] () throws(FormatError) in
            try Self.byteCount(shape: Array(dims.dropFirst()), itemSize: dtype.itemSize, of: "a row")
        }
        self.fortranOrder = fortranOrder
        self.shape = dims
        self.version = version
        self.dataOffset = length
    }

    /// The exact header numpy ≥ 1.24 `np.save` writes for an array (`research/npy.md` §1.2, §3.1).
    ///
    /// The dict text is `{'descr': …, 'fortran_order': …, 'shape': …, }`, followed, when the
    /// shape has an axis, by `21 − digits` spaces of growth room for the growth axis (the first,
    /// or the last in Fortran order), then 1…64 spaces (never 0) and `\n` so that the data starts
    /// on a multiple of 64. The version is 1 unless the text is not latin-1 (then 3) or the
    /// header would exceed 65,535 bytes (then 2).
    ///
    /// - Parameters:
    ///   - dtype: The element type.
    ///   - shape: The array shape; `[]` for a 0-d array.
    ///   - fortranOrder: Whether the data is in Fortran order; numpy writes `False` for 1-d arrays.
    /// - Returns: The header bytes, a multiple of 64 long; the data follows them.
    /// - Throws: `FormatError` with code `.invalidNpyHeader` for a negative dimension,
    ///   `.outOfRange` for more than 64 dimensions, data larger than `Int.max` bytes, or a header
    ///   longer than ``maximumHeaderLength``.
    /// - Complexity: O(*n*) in the header length.
    public static func canonical(dtype: DType, shape: [Int], fortranOrder: Bool = false) throws(FormatError) -> [UInt8]
    {
        _ = try byteCount(shape: shape, itemSize: dtype.itemSize)
        let layout = canonicalLayout(dtype: dtype, shape: shape, fortranOrder: fortranOrder)
        guard layout.headerLength <= maximumHeaderLength - layout.fieldEnd else {
            throw FormatError(.outOfRange, "the .npy header for \(dtype) would exceed \(maximumHeaderLength) bytes")
        }
        return assemble(version: layout.version, text: layout.text, headerLength: layout.headerLength)
    }

    /// This header rewritten for a new shape, at exactly the same length (``dataOffset``) and
    /// version, with the same dtype and order, in numpy's canonical text: what an appender
    /// writes over the old header after adding rows.
    ///
    /// - Parameter shape: The new shape.
    /// - Returns: ``dataOffset`` bytes: the prefix, the dict text, spaces, and `\n`.
    /// - Throws: `FormatError` with code `.outOfRange` if the text and its final newline do not
    ///   fit ("header has no room for shape …") or cannot be written in this version's encoding,
    ///   and the errors of ``canonical(dtype:shape:fortranOrder:)`` for an invalid shape.
    /// - Complexity: O(*n*) in the header length.
    public func withShape(_ shape: [Int]) throws(FormatError) -> [UInt8] {
        _ = try Self.byteCount(shape: shape, itemSize: dtype.itemSize)
        let fieldEnd = version == 1 ? 10 : 12
        let dict = Self.dictText(dtype: dtype, shape: shape, fortranOrder: fortranOrder)
        guard let text = version == 3 ? Array(dict.utf8) : Self.latin1(dict) else {
            throw FormatError(
                .outOfRange,
                "the header text for \(dtype) is not latin-1, so it cannot be written as version \(version)")
        }
        guard text.count < dataOffset - fieldEnd else {
            throw FormatError(
                .outOfRange,
                "header has no room for shape \(Self.shapeText(shape)): it needs \(fieldEnd + text.count + 1) bytes, "
                    + "the data starts at \(dataOffset)"
            )
        }
        return Self.assemble(version: version, text: text, headerLength: dataOffset - fieldEnd)
    }

    /// Whether ``dataOffset`` equals the length of the canonical header for this dtype, shape
    /// and order, which npy-append-array requires before it appends in place
    /// (`research/npy.md` §3.3).
    ///
    /// - Complexity: O(*n*) in the header length.
    public var hasCanonicalLength: Bool {
        let layout = Self.canonicalLayout(dtype: dtype, shape: shape, fortranOrder: fortranOrder)
        return layout.fieldEnd + layout.headerLength == dataOffset
    }

    // MARK: - Helpers

    /// Validates a shape and returns the bytes of data it describes (`what` names it in errors).
    static func byteCount(shape: [Int], itemSize: Int, of what: String = "shape") throws(FormatError) -> Int {
        guard shape.count <= maximumDimensions else {
            throw FormatError(
                .outOfRange, "shape has \(shape.count) dimensions; numpy supports at most \(maximumDimensions)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw FormatError(.invalidNpyHeader, "shape \(shapeText(shape)) has a negative dimension")
        }
        var count = 1
        for dimension in shape {
            count = try checkedProduct(count, dimension, "the element count of \(what) \(shapeText(shape))")
        }
        return try checkedProduct(count, itemSize, "the data size of \(what) \(shapeText(shape))")
    }

    /// Runs `body`, giving its errors that lack an offset the offset `offset`.
    private static func locating<T>(at offset: Int, _ body: () throws(FormatError) -> T) throws(FormatError) -> T {
        do {
            return try body()
        } catch {
            var located = error
            located.offset = located.offset ?? offset
            throw located
        }
    }

    private static func shapeText(_ shape: [Int]) -> String {
        PythonLiteral.tuple(shape.map(PythonLiteral.int)).repr
    }

    /// `{'descr': …, 'fortran_order': …, 'shape': …, }`, as `_write_array_header` builds it.
    private static func dictText(dtype: DType, shape: [Int], fortranOrder: Bool) -> String {
        "{'descr': \(dtype.descr), 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText(shape)), }"
    }

    /// The text encoded as latin-1, or `nil` if a character is past U+00FF.
    private static func latin1(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for scalar in text.unicodeScalars {
            guard let byte = UInt8(exactly: scalar.value) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// The text, version and `HEADER_LEN` numpy picks (`_wrap_header_guess_version`).
    private static func canonicalLayout(
        dtype: DType, shape: [Int], fortranOrder: Bool
    ) -> (version: UInt8, text: [UInt8], fieldEnd: Int, headerLength: Int) {
        var dict = dictText(dtype: dtype, shape: shape, fortranOrder: fortranOrder)
        if let growth = fortranOrder ? shape.last : shape.first {
            dict += String(repeating: " ", count: max(0, 21 - String(growth).count))
        }
        // `hlen` counts the final newline; padding is 1...64 spaces, never 0.
        func headerLength(_ text: [UInt8], _ fieldEnd: Int) -> Int {
            let hlen = text.count + 1
            return hlen + 64 - (fieldEnd + hlen) % 64
        }
        guard let text = latin1(dict) else {
            let utf8 = Array(dict.utf8)
            return (3, utf8, 12, headerLength(utf8, 12))
        }
        let v1 = headerLength(text, 10)
        return v1 <= Int(UInt16.max) ? (1, text, 10, v1) : (2, text, 12, headerLength(text, 12))
    }

    /// Magic, version, `HEADER_LEN`, text, spaces and `\n`; `text.count < headerLength`.
    private static func assemble(version: UInt8, text: [UInt8], headerLength: Int) -> [UInt8] {
        var writer = ByteWriter(capacity: 12 + headerLength)
        writer.write(bytes: magic + [version, 0])
        if version == 1 { writer.write(UInt16(headerLength)) } else { writer.write(UInt32(headerLength)) }
        writer.write(bytes: text)
        writer.write(bytes: repeatElement(UInt8(ascii: " "), count: headerLength - text.count - 1))
        writer.write(UInt8(ascii: "\n"))
        return writer.bytes
    }
}
