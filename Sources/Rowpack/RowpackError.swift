import RowpackFormat

/// An error from the Rowpack library: what went wrong, and where.
///
/// Every error names the file it concerns and, when known, the byte offset, the chunk and the
/// system error number, so its ``description`` is a complete one-line message.
public struct RowpackError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; extensible, compare with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The file breaks the format (corrupt, truncated, not a container).
        public static let corrupt = Code(name: "corrupt")
        /// The file needs a newer version of Rowpack.
        public static let unsupported = Code(name: "unsupported")
        /// A system call failed (see ``RowpackError/errno``).
        public static let io = Code(name: "io")
        /// Input rows do not match the container (dtype, row shape, size).
        public static let mismatch = Code(name: "mismatch")
        /// Another writer holds the file.
        public static let locked = Code(name: "locked")
        /// An argument is out of range (row numbers, options).
        public static let invalidArgument = Code(name: "invalid argument")
        /// The path now names another file than the one opened (it was replaced or removed).
        public static let replaced = Code(name: "replaced")
        /// The writer failed earlier and must be reopened.
        public static let writerFailed = Code(name: "writer failed")

        public var description: String { name }
    }

    /// `error` itself if it is a ``RowpackError``, otherwise an `.io` error naming `path`.
    static func wrapping(_ error: any Error, path: String) -> RowpackError {
        error as? RowpackError ?? RowpackError(.io, path: path, "\(error)")
    }

    /// What kind of failure this is.
    public var code: Code
    /// The file concerned.
    public var path: String
    /// What is wrong, in words.
    public var message: String
    /// Byte offset in the file, when known.
    public var offset: Int?
    /// Chunk number, when known.
    public var chunk: Int?
    /// The system error number, for `.io`.
    public var errno: Int32?

    /// Creates an error.
    public init(
        _ code: Code, path: String, _ message: String, offset: Int? = nil, chunk: Int? = nil, errno: Int32? = nil
    ) {
        self.code = code
        self.path = path
        self.message = message
        self.offset = offset
        self.chunk = chunk
        self.errno = errno
    }

    /// Wraps a format violation found in `path`; `base` is the file offset of the parsed bytes.
    init(_ error: FormatError, path: String, base: Int = 0, chunk: Int? = nil) {
        let code: Code = error.code == .unsupportedVersion ? .unsupported : .corrupt
        self.init(code, path: path, error.detail, offset: error.offset.map { $0 + base }, chunk: chunk ?? error.chunk)
    }

    public var description: String {
        var text = "\(path): \(message)"
        switch (chunk, offset) {
        case let (chunk?, offset?): text += " (chunk \(chunk), byte \(offset))"
        case let (chunk?, nil): text += " (chunk \(chunk))"
        case let (nil, offset?): text += " (byte \(offset))"
        case (nil, nil): break
        }
        return text
    }
}
