import Testing

@testable import RowpackFormat

/// Parses UTF-8 text the way `DType(descr:)` does.
private func parse(_ text: String, allowsLongSuffix: Bool = false) throws(FormatError) -> PythonLiteral {
    try PythonLiteral(
        parsing: Array(text.utf8), encoding: .utf8, allowsLongSuffix: allowsLongSuffix, syntaxError: .invalidNpyHeader)
}

@Suite struct PythonLiteralParsingTests {
    // Expected values checked with CPython 3.11 `ast.literal_eval`.
    @Test(arguments: [
        ("{}", PythonLiteral.dict([])),
        ("()", .tuple([])),
        ("( )", .tuple([])),
        ("[ ]", .list([])),
        ("(1,)", .tuple([.int(1)])),
        ("(1 ,)", .tuple([.int(1)])),
        ("(1)", .int(1)),
        ("((1,))", .tuple([.int(1)])),
        ("[1, 2,]", .list([.int(1), .int(2)])),
        ("[1, [2, (3,)]]", .list([.int(1), .list([.int(2), .tuple([.int(3)])])])),
        ("'it\\'s'", .string("it's")),
        ("\"say \\\"hi\\\"\"", .string("say \"hi\"")),
        ("'\"'", .string("\"")),
        ("\"'\"", .string("'")),
        ("'\\\\ \\n \\r \\t \\x41 \\u00e9 \\U0001F600'", .string("\\ \n \r \t A \u{e9} \u{1F600}")),
        ("'a\u{1}b\tc'", .string("a\u{1}b\tc")),
        ("'\u{e9}'", .string("\u{e9}")),
        ("-9223372036854775808", .int(Int.min)),
        ("9223372036854775807", .int(Int.max)),
        ("+5", .int(5)),
        ("- 5", .int(-5)),
        ("-0", .int(0)),
        ("00", .int(0)),
        ("True", .bool(true)),
        ("False", .bool(false)),
        (" \t\n\r\u{C}(1,\n\t2)\u{C}\n", .tuple([.int(1), .int(2)])),
    ])
    func parsesLikeLiteralEval(text: String, expected: PythonLiteral) throws {
        #expect(try parse(text) == expected)
    }

    @Test func dictEntriesKeepOrderDuplicatesAndValueOffsets() throws {
        let literal = try parse("{'b': 1, \"a\" : (2, 3),'b':True,}")
        #expect(
            literal
                == .dict([
                    .init(key: .string("b"), value: .int(1), valueOffset: 6),
                    .init(key: .string("a"), value: .tuple([.int(2), .int(3)]), valueOffset: 15),
                    .init(key: .string("b"), value: .bool(true), valueOffset: 26),
                ]))
    }

    @Test func longSuffixOnlyWhenAllowed() throws {
        #expect(try parse("(6L, 5L)", allowsLongSuffix: true) == .tuple([.int(6), .int(5)]))
        #expect(throws: FormatError.self) { try parse("(6L,)") }
        #expect(throws: FormatError.self) { try parse("(6l,)", allowsLongSuffix: true) }
        #expect(throws: FormatError.self) { try parse("(6LL,)", allowsLongSuffix: true) }
    }

    @Test func stringEncodings() throws {
        let latin1: [UInt8] = [0x27, 0x63, 0xE9, 0xFF, 0x27]  // 'cé\u{ff}' in latin-1
        let decoded = try PythonLiteral(parsing: latin1, encoding: .latin1, syntaxError: .invalidNpyHeader)
        #expect(decoded == .string("c\u{e9}\u{ff}"))
        let error = #expect(throws: FormatError.self) {
            try PythonLiteral(parsing: latin1, encoding: .utf8, syntaxError: .invalidNpyHeader)
        }
        #expect(error?.code == .invalidNpyHeader)
        #expect(error?.offset == 1)
    }

    @Test func parsesASubrangeWithAbsoluteOffsets() throws {
        let bytes = Array("xx(1, 2)yy".utf8)
        #expect(
            try PythonLiteral(parsing: bytes, in: 2..<8, encoding: .utf8, syntaxError: .invalidNpyHeader)
                == .tuple([.int(1), .int(2)]))
        let error = #expect(throws: FormatError.self) {
            try PythonLiteral(parsing: bytes, in: 2..<9, encoding: .utf8, syntaxError: .invalidNpyHeader)
        }
        #expect(error?.offset == 8)
    }

    /// Each is a SyntaxError or ValueError for `ast.literal_eval`, or outside the subset.
    static let malformed: [String] = [
        "",
        "   ",
        "{",
        "(1, 2",
        "{'a'}",
        "{'a' 1}",
        "{'a': 1 'b': 2}",
        "{,}",
        "(,)",
        "(1,,)",
        "[,]",
        "[1,,]",
        "1.5",
        "1e3",
        "0x10",
        "1_0",
        "01",
        "--1",
        "-",
        "None",
        "true",
        "b'x'",
        "u'x'",
        "'a' 'b'",
        "'abc",
        "'abc\\",
        "'a\nb'",
        "'a\rb'",
        "'a\u{0}b'",
        "'\\q'",
        "'\\a'",
        "'\\0'",
        "'\\N{BULLET}'",
        "'\\x4'",
        "'\\x4g'",
        "'\\u00e'",
        "'\\ud800'",
        "'\\U00110000'",
        "{}\u{0}",
        "{}\u{B}",
        "\u{A0}{}",
        "{} x",
        "{}}",
        "{} # comment",
    ]

    @Test(arguments: malformed)
    func refusesMalformedText(text: String) {
        let error = #expect(throws: FormatError.self) { try parse(text) }
        #expect(error?.code == .invalidNpyHeader)
    }

    /// Giant ints, deep nesting: refused before anything can overflow or exhaust the stack.
    static let tooLarge: [String] = [
        "9223372036854775808",
        "-9223372036854775809",
        "1180591620717411303424",  // 2**70
        String(repeating: "9", count: 5000),
        String(repeating: "[", count: 33) + String(repeating: "]", count: 33),
        String(repeating: "(", count: 100_000),
        String(repeating: "{'a': ", count: 40) + "1" + String(repeating: "}", count: 40),
    ]

    @Test(arguments: tooLarge)
    func refusesOversizedValues(text: String) {
        let error = #expect(throws: FormatError.self) { try parse(text) }
        #expect(error?.code == .outOfRange)
    }

    @Test func depthLimitIsExact() throws {
        let depth = PythonLiteral.maximumDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: Never.self) { try parse(deepest) }
        let error = #expect(throws: FormatError.self) { try parse("[" + deepest + "]") }
        #expect(error?.code == .outOfRange)
        #expect(error?.offset == depth)
    }

    @Test func lengthLimit() {
        let text = "'" + String(repeating: "a", count: PythonLiteral.maximumLength) + "'"
        let error = #expect(throws: FormatError.self) { try parse(text) }
        #expect(error?.code == .outOfRange)
    }

    @Test(arguments: [("(1, 2, x)", 7), ("['ok', 'unterminated]", 7), ("[1, 99999999999999999999]", 4), ("[1 2]", 3)])
    func errorsCarryTheOffset(text: String, offset: Int) {
        let error = #expect(throws: FormatError.self) { try parse(text) }
        #expect(error?.offset == offset)
    }

    /// Random bytes never trap the parser (a deterministic stand-in for the fuzz harness).
    @Test func randomBytesNeverTrap() {
        var random = SplitMix64(seed: 0x5EED)
        let alphabet = Array("{}[](),:'\"\\ \t\n-+0123456789LTrueFalsxuU".utf8) + [0, 0x80, 0xC3, 0xA9, 0xFF]
        for _ in 0..<20_000 {
            let count = Int(random.next() % 40)
            let bytes = (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            for encoding in [PythonLiteral.Encoding.latin1, .utf8] {
                _ = try? PythonLiteral(
                    parsing: bytes, encoding: encoding, allowsLongSuffix: true, syntaxError: .invalidNpyHeader)
            }
        }
    }
}

@Suite struct PythonLiteralReprTests {
    // (string, CPython 3.11 repr(string)), generated with Python; escapes follow str.isprintable.
    static let strings: [(String, String)] = [
        ("", "''"),
        ("a", "'a'"),
        ("it's", "\"it's\""),
        ("say \"hi\"", "'say \"hi\"'"),
        ("both'\"", "'both\\'\"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("tab\there", "'tab\\there'"),
        ("line\nfeed\r", "'line\\nfeed\\r'"),
        ("nul\u{0}", "'nul\\x00'"),
        ("bell\u{7}\u{1b}\u{1f}", "'bell\\x07\\x1b\\x1f'"),
        ("del\u{7f}", "'del\\x7f'"),
        ("c1\u{80}\u{9f}", "'c1\\x80\\x9f'"),
        ("nbsp\u{a0}x", "'nbsp\\xa0x'"),
        ("soft\u{ad}hyphen", "'soft\\xadhyphen'"),
        ("caf\u{e9}", "'caf\u{e9}'"),
        ("\u{ff}", "'\u{ff}'"),
        ("\u{3b1}", "'\u{3b1}'"),
        ("\u{6e29}\u{5ea6}", "'\u{6e29}\u{5ea6}'"),
        ("zw\u{200b}sp", "'zw\\u200bsp'"),
        ("bom\u{feff}", "'bom\\ufeff'"),
        ("ls\u{2028}ps\u{2029}", "'ls\\u2028ps\\u2029'"),
        ("ideo\u{3000}sp", "'ideo\\u3000sp'"),
        ("pua\u{e000}", "'pua\\ue000'"),
        ("noncharacter\u{ffff}", "'noncharacter\\uffff'"),
        ("unassigned\u{378}", "'unassigned\\u0378'"),
        ("emoji\u{1f600}", "'emoji\u{1f600}'"),
        ("tag\u{e0001}", "'tag\\U000e0001'"),
        ("plane15\u{f0000}", "'plane15\\U000f0000'"),
        ("max\u{10ffff}", "'max\\U0010ffff'"),
        ("\u{100}", "'\u{100}'"),
        ("\u{100}\u{ff}\u{101}", "'\u{100}\u{ff}\u{101}'"),
        ("\u{1680}ogham", "'\\u1680ogham'"),
        ("combining e\u{301}", "'combining e\u{301}'"),
        ("\u{1d400}math", "'\u{1d400}math'"),
        ("a'b\"c\\d", "'a\\'b\"c\\\\d'"),
    ]

    @Test(arguments: strings)
    func stringReprMatchesCPython(text: String, expected: String) {
        // Compare scalars: Swift's String == would call "e\u{301}" and "\u{e9}" equal.
        #expect(Array(PythonLiteral.string(text).repr.unicodeScalars) == Array(expected.unicodeScalars))
    }

    @Test(arguments: strings)
    func stringReprRoundTrips(text: String, expected: String) throws {
        guard case .string(let parsed) = try parse(expected) else {
            Issue.record("not a string")
            return
        }
        #expect(Array(parsed.unicodeScalars) == Array(text.unicodeScalars))
    }

    @Test(arguments: [
        (PythonLiteral.tuple([]), "()"),
        (.tuple([.int(3)]), "(3,)"),
        (.tuple([.int(3), .int(-2)]), "(3, -2)"),
        (.list([]), "[]"),
        (.list([.string("x"), .tuple([.string("y"), .int(1)])]), "['x', ('y', 1)]"),
        (.bool(true), "True"),
        (.bool(false), "False"),
        (.int(Int.min), "-9223372036854775808"),
        (.dict([]), "{}"),
        (
            .dict([
                .init(key: .string("a"), value: .int(1), valueOffset: 0),
                .init(key: .int(2), value: .list([]), valueOffset: 0),
            ]),
            "{'a': 1, 2: []}"
        ),
    ])
    func containerRepr(value: PythonLiteral, expected: String) {
        #expect(value.repr == expected)
    }

    /// repr then parse gives back any string of valid scalars.
    @Test func randomStringsRoundTrip() throws {
        var random = SplitMix64(seed: 42)
        let planes: [ClosedRange<UInt32>] = [
            0...0x7F, 0x80...0x2FF, 0x2000...0x206F, 0xD700...0xE0FF, 0xFFF0...0x1_0010, 0x1F600...0x1F64F,
            0xE0000...0x10FFFF,
        ]
        for _ in 0..<2_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int(random.next() % 12) {
                let plane = planes[Int(random.next() % UInt64(planes.count))]
                let value = plane.lowerBound + UInt32(random.next() % UInt64(plane.count))
                if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
            }
            let text = String(scalars)
            guard case .string(let parsed) = try parse(PythonLiteral.string(text).repr) else {
                Issue.record("not a string")
                return
            }
            #expect(Array(parsed.unicodeScalars) == Array(text.unicodeScalars))
        }
    }
}

/// A small deterministic generator (SplitMix64) for the property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
