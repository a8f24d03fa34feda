import Testing

@testable import RowpackFormat

@Suite struct DTypeTests {
    /// (descr text as a header may hold it, numpy's canonical descr, itemsize, shuffle width).
    /// The canonical texts and item sizes are numpy 2.4.6's `dtype_to_descr(descr_to_dtype(…))`;
    /// the shuffle widths follow the rule in `DType.shuffleElementSize`.
    static let accepted: [(String, String, Int, Int)] = [
        ("'<f4'", "'<f4'", 4, 4),
        ("\"<f4\"", "'<f4'", 4, 4),
        ("'=f4'", "'<f4'", 4, 4),
        ("'|f4'", "'<f4'", 4, 4),
        ("'f4'", "'<f4'", 4, 4),
        ("'f'", "'<f4'", 4, 4),
        ("'>i4'", "'>i4'", 4, 4),
        ("'|u1'", "'|u1'", 1, 1),
        ("'<u1'", "'|u1'", 1, 1),
        ("'>i1'", "'|i1'", 1, 1),
        ("'i1'", "'|i1'", 1, 1),
        ("'b'", "'|i1'", 1, 1),
        ("'B'", "'|u1'", 1, 1),
        ("'h'", "'<i2'", 2, 2),
        ("'H'", "'<u2'", 2, 2),
        ("'i'", "'<i4'", 4, 4),
        ("'I'", "'<u4'", 4, 4),
        ("'q'", "'<i8'", 8, 8),
        ("'Q'", "'<u8'", 8, 8),
        ("'p'", "'<i8'", 8, 8),
        ("'P'", "'<u8'", 8, 8),
        ("'e'", "'<f2'", 2, 2),
        ("'d'", "'<f8'", 8, 8),
        ("'F'", "'<c8'", 8, 4),
        ("'D'", "'<c16'", 16, 8),
        ("'b1'", "'|b1'", 1, 1),
        ("'<b1'", "'|b1'", 1, 1),
        ("'?'", "'|b1'", 1, 1),
        ("'>?'", "'|b1'", 1, 1),
        ("'<U5'", "'<U5'", 20, 4),
        ("'|U5'", "'<U5'", 20, 4),
        ("'=U5'", "'<U5'", 20, 4),
        ("'>U5'", "'>U5'", 20, 4),
        ("'U'", "'<U0'", 0, 4),
        ("'>U0'", "'>U0'", 0, 4),
        ("'|S5'", "'|S5'", 5, 1),
        ("'<S5'", "'|S5'", 5, 1),
        ("'S'", "'|S0'", 0, 1),
        ("'a5'", "'|S5'", 5, 1),
        ("'a'", "'|S0'", 0, 1),
        ("'S05'", "'|S5'", 5, 1),
        ("'|V7'", "'|V7'", 7, 1),
        ("'<V7'", "'|V7'", 7, 1),
        ("'V'", "'|V0'", 0, 1),
        ("'|S0'", "'|S0'", 0, 1),
        ("'f16'", "'<f16'", 16, 16),
        ("'c32'", "'<c32'", 32, 16),
        ("'<c8'", "'<c8'", 8, 4),
        ("'<c16'", "'<c16'", 16, 8),
        ("'f2'", "'<f2'", 2, 2),
        ("'i8'", "'<i8'", 8, 8),
        ("'u8'", "'<u8'", 8, 8),
        ("'M8'", "'<M8'", 8, 8),
        ("'m8'", "'<m8'", 8, 8),
        ("'<M8[ns]'", "'<M8[ns]'", 8, 8),
        ("'|M8[ns]'", "'<M8[ns]'", 8, 8),
        ("'>M8[ns]'", "'>M8[ns]'", 8, 8),
        ("'=M8[D]'", "'<M8[D]'", 8, 8),
        ("'M8[1s]'", "'<M8[s]'", 8, 8),
        ("'M8[01s]'", "'<M8[s]'", 8, 8),
        ("'M8[0s]'", "'<M8[0s]'", 8, 8),
        ("'M8[25s]'", "'<M8[25s]'", 8, 8),
        ("'<m8[25s]'", "'<m8[25s]'", 8, 8),
        ("'M8[2147483647as]'", "'<M8[2147483647as]'", 8, 8),
        ("'M8[Y]'", "'<M8[Y]'", 8, 8),
        ("'M8[M]'", "'<M8[M]'", 8, 8),
        ("'M8[W]'", "'<M8[W]'", 8, 8),
        ("'M8[h]'", "'<M8[h]'", 8, 8),
        ("'M8[m]'", "'<M8[m]'", 8, 8),
        ("'M8[ms]'", "'<M8[ms]'", 8, 8),
        ("'M8[us]'", "'<M8[us]'", 8, 8),
        ("'M8[\u{3bc}s]'", "'<M8[us]'", 8, 8),
        ("'M8[ps]'", "'<M8[ps]'", 8, 8),
        ("'M8[fs]'", "'<M8[fs]'", 8, 8),
        ("'M8[generic]'", "'<M8'", 8, 8),
        ("'M8[2generic]'", "'<M8'", 8, 8),
        ("'float32'", "'<f4'", 4, 4),
        ("'float64'", "'<f8'", 8, 8),
        ("'float16'", "'<f2'", 2, 2),
        ("'int8'", "'|i1'", 1, 1),
        ("'int16'", "'<i2'", 2, 2),
        ("'int32'", "'<i4'", 4, 4),
        ("'int64'", "'<i8'", 8, 8),
        ("'uint8'", "'|u1'", 1, 1),
        ("'uint16'", "'<u2'", 2, 2),
        ("'uint32'", "'<u4'", 4, 4),
        ("'uint64'", "'<u8'", 8, 8),
        ("'bool'", "'|b1'", 1, 1),
        ("'bool_'", "'|b1'", 1, 1),
        ("'complex64'", "'<c8'", 8, 4),
        ("'complex128'", "'<c16'", 16, 8),
        ("'complex'", "'<c16'", 16, 8),
        ("'float'", "'<f8'", 8, 8),
        ("'int'", "'<i8'", 8, 8),
        ("'int_'", "'<i8'", 8, 8),
        ("'intp'", "'<i8'", 8, 8),
        ("'uint'", "'<u8'", 8, 8),
        ("'uintp'", "'<u8'", 8, 8),
        ("'byte'", "'|i1'", 1, 1),
        ("'ubyte'", "'|u1'", 1, 1),
        ("'short'", "'<i2'", 2, 2),
        ("'ushort'", "'<u2'", 2, 2),
        ("'intc'", "'<i4'", 4, 4),
        ("'uintc'", "'<u4'", 4, 4),
        ("'longlong'", "'<i8'", 8, 8),
        ("'ulonglong'", "'<u8'", 8, 8),
        ("'half'", "'<f2'", 2, 2),
        ("'single'", "'<f4'", 4, 4),
        ("'double'", "'<f8'", 8, 8),
        ("'csingle'", "'<c8'", 8, 4),
        ("'cdouble'", "'<c16'", 16, 8),
        ("'str'", "'<U0'", 0, 4),
        ("'str_'", "'<U0'", 0, 4),
        ("'unicode'", "'<U0'", 0, 4),
        ("'bytes'", "'|S0'", 0, 1),
        ("'bytes_'", "'|S0'", 0, 1),
        ("'void'", "'|V0'", 0, 1),
        ("'datetime64'", "'<M8'", 8, 8),
        ("'datetime64[ns]'", "'<M8[ns]'", 8, 8),
        ("'timedelta64[25s]'", "'<m8[25s]'", 8, 8),
        ("'S2147483647'", "'|S2147483647'", 2_147_483_647, 1),
        ("'U536870911'", "'<U536870911'", 2_147_483_644, 4),
        ("[]", "[]", 0, 1),
        ("[('x', '<f4'), ('y', '<i8')]", "[('x', '<f4'), ('y', '<i8')]", 12, 12),
        ("[(\"x\", \"<f4\"), (\"y\", \"<i8\"),]", "[('x', '<f4'), ('y', '<i8')]", 12, 12),
        ("[ ( 'x' , 'f4' ) ,\t( 'y','i8' ) ]", "[('x', '<f4'), ('y', '<i8')]", 12, 12),
        ("[['x', '<f4'], ['y', '<i8']]", "[('x', '<f4'), ('y', '<i8')]", 12, 12),
        ("[('pos', '<f4', (3,)), ('id', '<u2')]", "[('pos', '<f4', (3,)), ('id', '<u2')]", 14, 14),
        ("[('pos', '<f4', 3)]", "[('pos', '<f4', (3,))]", 12, 12),
        ("[('pos', '<f4', [3])]", "[('pos', '<f4', (3,))]", 12, 12),
        ("[('pos', '<f4', ())]", "[('pos', '<f4')]", 4, 4),
        ("[('pos', '<f4', (1,))]", "[('pos', '<f4', (1,))]", 4, 4),
        ("[('pos', '<f4', (0,))]", "[('pos', '<f4', (0,))]", 0, 1),
        ("[('m', '<f8', (2, 3))]", "[('m', '<f8', (2, 3))]", 48, 48),
        (
            "[('a', [('b', 'i1'), ('c', '>f8')]), ('d', 'S3')]", "[('a', [('b', '|i1'), ('c', '>f8')]), ('d', '|S3')]",
            12, 12
        ),
        ("[('a', [('b', 'i1')], (2,))]", "[('a', [('b', '|i1')], (2,))]", 2, 2),
        ("[('a', [])]", "[('a', [])]", 0, 1),
        ("[('', [])]", "[('', [])]", 0, 1),
        ("[('', [('b', 'i1')])]", "[('', [('b', '|i1')])]", 1, 1),
        ("[('a', [('', 'V4')])]", "[('a', [('', '|V4')])]", 4, 4),
        ("[(('Title A', 'a'), '<i4')]", "[(('Title A', 'a'), '<i4')]", 4, 4),
        ("[(('', 'a'), '<i4')]", "[(('', 'a'), '<i4')]", 4, 4),
        ("[(('t', ''), '<f4')]", "[(('t', ''), '<f4')]", 4, 4),
        ("[(('t', ''), '|V4')]", "[(('t', ''), '|V4')]", 4, 4),
        ("[('a', 'i1'), ('', 'V3'), ('', 'V4'), ('b', '<f8')]", "[('a', '|i1'), ('', '|V7'), ('b', '<f8')]", 16, 16),
        ("[('a', '<i4'), ('', '|V4')]", "[('a', '<i4'), ('', '|V4')]", 8, 8),
        ("[('', '|V4')]", "[('', '|V4')]", 4, 4),
        ("[('', '|V0')]", "[]", 0, 1),
        ("[('', '|V4', (2,))]", "[('', '|V8')]", 8, 8),
        ("[('', '<f4', (2,))]", "[('', '|V8')]", 8, 8),
        ("[('', [('b', 'i1')], (2,))]", "[('', '|V2')]", 2, 2),
        ("[('', '|V4', ())]", "[('', '|V4')]", 4, 4),
        ("[('a', '<f4'), ('', '<f4', (2,)), ('b', 'i1')]", "[('a', '<f4'), ('', '|V8'), ('b', '|i1')]", 13, 13),
        ("[('', '<f4')]", "[('', '<f4')]", 4, 4),
        ("[('', 'S4')]", "[('', '|S4')]", 4, 4),
        ("[('a', '<f4'), ('', '<i4')]", "[('a', '<f4'), ('', '<i4')]", 8, 8),
        ("[('a', '<f4'), ('b', 'V0')]", "[('a', '<f4'), ('b', '|V0')]", 4, 4),
        ("[('a', 'S0'), ('b', '<f4')]", "[('a', '|S0'), ('b', '<f4')]", 4, 4),
        ("[('a', '<M8[ns]'), ('b', '<U3'), ('c', '|b1')]", "[('a', '<M8[ns]'), ('b', '<U3'), ('c', '|b1')]", 21, 21),
        (
            "[('a', '<f4', (2147483647, 0, 2147483647, 2147483647))]",
            "[('a', '<f4', (2147483647, 0, 2147483647, 2147483647))]", 0, 1
        ),
        ("[('a', 'S1', (2147483647,))]", "[('a', '|S1', (2147483647,))]", 2_147_483_647, 65535),
        ("[('a', '|S1073741823', (2,))]", "[('a', '|S1073741823', (2,))]", 2_147_483_646, 65535),
        ("[(\"it's\", '<f4')]", "[(\"it's\", '<f4')]", 4, 4),
        ("[('both\\'\"', '<f4')]", "[('both\\'\"', '<f4')]", 4, 4),
        (
            "[('back\\\\slash', '<f4'), ('tab\\there', '<i4'), ('nul\\x00', '|u1')]",
            "[('back\\\\slash', '<f4'), ('tab\\there', '<i4'), ('nul\\x00', '|u1')]", 9, 9
        ),
        (
            "[('zw\\u200bsp', '<f4'), ('nbsp\\xa0x', '<f4'), ('caf\u{e9}', '<f4'), ('\u{3b1}', '<f4'), ('emoji\\U0001F600', '<f4')]",
            "[('zw\\u200bsp', '<f4'), ('nbsp\\xa0x', '<f4'), ('caf\u{e9}', '<f4'), ('\u{3b1}', '<f4'), ('emoji\u{1f600}', '<f4')]",
            20, 20
        ),
        (
            "[('a', '<f4', (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))]",
            "[('a', '<f4', (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))]",
            4, 4
        ),
    ]

    @Test(arguments: accepted)
    func canonicalizesLikeNumpy(text: String, descr: String, itemSize: Int, shuffle: Int) throws {
        let dtype = try DType(descr: text)
        #expect(Array(dtype.descr.unicodeScalars) == Array(descr.unicodeScalars))
        #expect(dtype.itemSize == itemSize)
        #expect(dtype.shuffleElementSize == shuffle)
        #expect(dtype.isStructured == descr.hasPrefix("["))
        #expect(try DType(descr: dtype.descr) == dtype, "canonical text is a fixed point")
    }

    /// Refused like numpy (TypeError or ValueError from `descr_to_dtype`).
    static let invalid: [String] = [
        "'i3'", "'b2'", "'?1'", "'u16'", "'u'", "'c4'", "'f10'", "'i0'", "'M4'", "' f4'", "'f4 '", "'<float32'",
        "'M[ns]'", "'M8[ns]x'", "'M8[]'", "'M8[ s]'", "'M8[s'", "'M8[Ys]'", "'M8[B]'", "'M8[-1s]'",
        "'M8[2147483648s]'", "'M8[1_0s]'", "'f4[ns]'", "'float32[ns]'", "'S-1'", "'S1_0'", "'Float32'", "'int0'",
        "'string'", "''", "'<'",
        "[('x', '<f4'), ('x', '<i4')]", "[('', '<f4'), ('', '<i4')]", "[(('a', 'a'), '<i4')]",
        "[(('t', 'a'), '<i4'), ('t', '<f4')]", "[(('a', 'b'), '<f4'), (('c', 'b'), '<f4')]",
        "[('pos', '<f4', (-1,))]", "[('a', '<f4', 'x')]", "[('a', '<f4', True)]", "[('a', '<f4', (True,))]",
        "[('a', '<f4', (2147483648,))]", "[(1, '<f4')]", "[(('t', 'a', 'b'), '<f4')]", "[(('t',), '<f4')]",
        "[('a',)]", "[('a', '<f4', (2,), 5)]", "[('a', 5)]", "[('a', ['<f4'])]", "['x']", "5", "True",
        "[('x', '<f4'", "'<f4' '<f4'",
    ]

    @Test(arguments: invalid)
    func refusesInvalidDescr(text: String) {
        let error = #expect(throws: FormatError.self) { try DType(descr: text) }
        #expect(error?.code == .invalidDType)
    }

    /// Sizes numpy refuses because they do not fit its C `int` sizes, or 65 dimensions.
    static let tooLarge: [String] = [
        "'S2147483648'", "'U536870912'", "'V2147483648'", "'S99999999999999999999999'",
        "[('a', '<f4', (32768, 32768))]", "[('a', 'S2', (1073741824,))]",
        "[('a', '<f4', (2147483647, 2147483647, 2147483647, 0))]", "[('a', 'S2147483647'), ('b', 'S1')]",
        "[('a', 'S1', (65536, 32767)), ('b', 'S1', (65536, 32767))]",
        "[('a', '<f4', (" + String(repeating: "1, ", count: 65) + "))]",
    ]

    @Test(arguments: tooLarge)
    func refusesOversizedDescr(text: String) {
        let error = #expect(throws: FormatError.self) { try DType(descr: text) }
        #expect(error?.code == .outOfRange)
    }

    /// numpy accepts these, Rowpack deliberately does not: object dtypes (rows must be
    /// fixed-size), the comma/repeat/`c` shorthands, and `(descr, shape)` tuples.
    static let unsupported: [String] = [
        "'|O'", "'O'", "'O8'", "'object'", "[('a', '|O'), ('b', '<i4')]", "[('a', [('b', 'O')])]",
        "'c'", "'f4,i4'", "'3f4'", "'(2,)f4'", "[('a', '3f4')]", "[('a', 'f4,i4')]", "('<f4', (3,))",
        "[('a', ('<f4', (3,)))]", "'l'", "'L'", "'g'", "'G'", "'n'", "'N'", "[((1, 'a'), '<i4')]",
    ]

    @Test(arguments: unsupported)
    func refusesUnsupportedDescr(text: String) {
        let error = #expect(throws: FormatError.self) { try DType(descr: text) }
        #expect(error?.code == .invalidDType)
    }

    @Test(arguments: ["'|O'", "'object'", "[('a', '|O'), ('b', '<i4')]", "[('a', [('b', 'O')])]"])
    func objectDtypesNameTheReason(text: String) {
        let error = #expect(throws: FormatError.self) { try DType(descr: text) }
        #expect(error?.detail == "object dtype is not supported (rows must be fixed-size)")
    }

    @Test func syntaxErrorsCarryOffsets() {
        let error = #expect(throws: FormatError.self) { try DType(descr: "[('x', '<f4') ('y', '<i8')]") }
        #expect(error?.code == .invalidDType)
        #expect(error?.offset == 14)
    }

    @Test func deepNestingThrows() {
        var text = "'<f4'"
        for _ in 0..<40 { text = "[('a', \(text))]" }
        let error = #expect(throws: FormatError.self) { try DType(descr: text) }
        #expect(error?.code == .outOfRange)
    }

    /// (command-line name, numpy 2.4.6 `np.dtype(name).str`).
    static let names: [(String, String)] = [
        ("<f4", "<f4"),
        ("float32", "<f4"),
        ("int64", "<i8"),
        ("uint8", "|u1"),
        ("bool", "|b1"),
        ("complex64", "<c8"),
        ("S5", "|S5"),
        ("U3", "<U3"),
        ("datetime64[ns]", "<M8[ns]"),
        (">f8", ">f8"),
        ("i2", "<i2"),
        ("timedelta64[25s]", "<m8[25s]"),
        ("float", "<f8"),
        ("int", "<i8"),
        ("str", "<U0"),
        ("V7", "|V7"),
        ("?", "|b1"),
        ("b1", "|b1"),
        ("f8", "<f8"),
        ("u4", "<u4"),
        ("M8[us]", "<M8[us]"),
        ("c16", "<c16"),
        ("intc", "<i4"),
        ("half", "<f2"),
        ("datetime64", "<M8"),
    ]

    @Test(arguments: names)
    func numpyNames(name: String, str: String) throws {
        let dtype = try DType(numpy: name)
        #expect(dtype.description == str)
        #expect(dtype == (try DType(descr: "'\(str)'")))
    }

    @Test(arguments: ["O", "object", "float33", "", "[('x', '<f4')]", "f4 ", "'<f4'"])
    func refusesBadNames(name: String) {
        #expect(throws: FormatError.self) { try DType(numpy: name) }
    }

    @Test(arguments: [
        (DType.bool, "'|b1'"), (.int8, "'|i1'"), (.int16, "'<i2'"), (.int32, "'<i4'"), (.int64, "'<i8'"),
        (.uint8, "'|u1'"), (.uint16, "'<u2'"), (.uint32, "'<u4'"), (.uint64, "'<u8'"),
        (.float16, "'<f2'"), (.float32, "'<f4'"), (.float64, "'<f8'"), (.complex64, "'<c8'"), (.complex128, "'<c16'"),
    ])
    func constants(dtype: DType, descr: String) throws {
        #expect(dtype.descr == descr)
        #expect(try DType(descr: descr) == dtype)
        #expect(!dtype.isStructured)
    }

    @Test func description() throws {
        #expect(DType.float32.description == "<f4")
        #expect(try DType(descr: "'M8[25s]'").description == "<M8[25s]")
        let structured = try DType(descr: "[('x', 'f4')]")
        #expect(structured.description == "[('x', '<f4')]")
    }

    @Test func equalityDistinguishesUnnormalizedNames() throws {
        let precomposed = try DType(descr: "[('\u{e9}', '<f4')]")
        let decomposed = try DType(descr: "[('e\u{301}', '<f4')]")
        #expect(precomposed != decomposed)
        #expect(Set([precomposed, decomposed]).count == 2)
        #expect(try DType(descr: "[('\u{e9}', '<f4'), ('e\u{301}', '<f4')]").itemSize == 8)
    }
}
