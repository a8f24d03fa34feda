/// A violation of the on-disk format (`Spec/FORMAT.md`) or of a `.npy` header, found while
/// decoding untrusted bytes or validating values to encode.
///
/// Errors carry the byte offset where decoding stopped and, when known, the chunk number, so
/// a message can say exactly where a file is damaged. The `Code` is an extensible struct:
/// match on it with `==`, never exhaustively.
public struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of violation this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// The bytes ended before a structure did.
        public static let truncated = Code(name: "truncated")
        /// A magic number did not match.
        public static let badMagic = Code(name: "bad magic")
        /// A checksum did not match its bytes.
        public static let checksumMismatch = Code(name: "checksum mismatch")
        /// A size, count or offset is outside what the format or the file allows.
        public static let outOfRange = Code(name: "out of range")
        /// The structure was written by a format version this reader does not support.
        public static let unsupportedVersion = Code(name: "unsupported version")
        /// A well-formed structure that belongs to another file or another offset (a copy, not
        /// this file's structure at this place).
        public static let misplaced = Code(name: "misplaced")
        /// A field holds a value the format does not define.
        public static let invalidValue = Code(name: "invalid value")
        /// A numpy dtype description could not be parsed or is not supported.
        public static let invalidDType = Code(name: "invalid dtype")
        /// A `.npy` header could not be parsed or is not supported.
        public static let invalidNpyHeader = Code(name: "invalid .npy header")

        public var description: String { name }
    }

    /// What kind of violation this is.
    public var code: Code
    /// Byte offset (in the file, or in the buffer being parsed) where the problem was found.
    public var offset: Int?
    /// The chunk the problem belongs to, when there is one.
    public var chunk: Int?
    /// A human-readable explanation naming the field and the values involved.
    public var detail: String

    /// Creates an error.
    public init(_ code: Code, at offset: Int? = nil, chunk: Int? = nil, _ detail: String) {
        self.code = code
        self.offset = offset
        self.chunk = chunk
        self.detail = detail
    }

    /// The same error moved by `base` bytes: used when a structure parsed from a buffer lives at
    /// `base` in a file.
    public func shifted(by base: Int) -> FormatError {
        var copy = self
        if let offset { copy.offset = base.addingReportingOverflow(offset).partialValue }
        return copy
    }

    public var description: String {
        var text = detail
        if let chunk {
            text += " (chunk \(chunk)" + (offset.map { ", byte \($0))" } ?? ")")
        } else if let offset {
            text += " (at byte \(offset))"
        }
        return text
    }
}
