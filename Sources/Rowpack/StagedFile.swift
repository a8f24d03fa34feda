import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A new file built aside and then published at its destination in one step: the destination
/// holds what it held before, or the complete new file, never a partial one.
///
/// Every operation that writes a whole file goes through this type: creating a container,
/// import, compact, export (ranges, slices, gathered rows) and the `.npy` header rewrite.
///
/// - **Before any work** the destination is checked: if it exists it must be a regular file (a
///   symbolic link is never replaced, nor a device, FIFO or directory), replacing it must be
///   allowed, and it must not be the file the operation reads from (same device and inode as
///   a source's open descriptor) unless the caller rebuilds that file in place.
/// - **A file being replaced is locked** with the writer's lock (``FileIO/lockForWriting()``)
///   from the checks until the rename, so a live writer makes the operation fail with `.locked`
///   and no writer can start on the old file meanwhile.
/// - **The new file has no name** while it is built (`O_TMPFILE` in the destination's
///   directory), so a process killed at any moment leaves nothing behind. On filesystems without
///   `O_TMPFILE` it has a short hidden name, `.rp-<pid>-<hex>.tmp` (so destination names of
///   255 bytes work); such names left by dead processes are removed by the next fallback or
///   replacement in that directory (one directory listing).
/// - ``publish()``: data synced (per ``Durability``), then linked to the destination — directly,
///   failing if the name exists, when nothing is replaced; otherwise linked to a hidden name and
///   renamed over the destination — then the directory synced. The destination's directory
///   entry changes once, by that link or rename, after the new file's data is on disk.
///
/// Not thread-safe. Dropping an unpublished file discards it.
final class StagedFile {
    /// The file being built. Its errors name the destination.
    let io: FileIO
    /// Where the file is published.
    let destination: String

    private let directory: String
    private let durability: Durability
    /// The existing destination, open and locked until the new file replaces it.
    private var replaced: FileIO?
    /// The new file's hidden name in `directory`, when it has one.
    private var hiddenName: String?
    private var isPublished = false

    /// The hidden names are `.rp-<pid>-<8 hex digits>.tmp`.
    private static let hiddenPrefix = ".rp-"
    private static let hiddenSuffix = ".tmp"
    /// `O_TMPFILE` (Linux; not importable from the C headers, which define it through macros).
    private static let openUnnamed = Int32(0o20000000) | O_DIRECTORY

    private init(destination: String, durability: Durability, replacing replaced: FileIO?) throws {
        self.destination = destination
        self.durability = durability
        self.replaced = replaced
        let parent = FilePath(destination).removingLastComponent().string
        directory = parent.isEmpty ? "." : parent
        var mode = mode_t(0o644)
        if let replaced { mode = try Self.status(of: replaced).st_mode & 0o7777 }
        // An unnamed file is linked through /proc/self/fd; without /proc, or a filesystem that
        // cannot make unnamed files, it gets a hidden name instead.
        var fd: Int32 = -1
        var unnamedUnsupported = access("/proc/self/fd", F_OK) != 0
        if !unnamedUnsupported {
            fd = Glibc.open(directory, Self.openUnnamed | O_RDWR | O_CLOEXEC, mode)
            unnamedUnsupported = fd < 0 && [EOPNOTSUPP, EISDIR, EINVAL].contains(errno)
        }
        // Hidden names are made here only by the fallback and, briefly, when replacing (see
        // publish()); whenever one may be, those of processes that died are removed.
        if unnamedUnsupported || replaced != nil { Self.removeStaleTemporaries(in: directory) }
        if unnamedUnsupported {
            let name = Self.hiddenName()
            fd = Glibc.open(directory + "/" + name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode)
            if fd >= 0 { hiddenName = name }
        }
        guard fd >= 0 else {
            throw RowpackError(
                .io, path: destination, "cannot create a new file in \(directory): \(String(cString: strerror(errno)))",
                errno: errno)
        }
        if replaced != nil { _ = fchmod(fd, mode) }  // umask applied at open; the replaced file's mode wins
        io = FileIO(adopting: FileDescriptor(rawValue: fd), path: destination)
    }

    deinit {
        if !isPublished, let hiddenName { unlink(directory + "/" + hiddenName) }
    }

    /// Starts a new file for `path` after checking the destination (see the type's summary).
    ///
    /// - Parameters:
    ///   - overwrite: allow replacing an existing regular file.
    ///   - sources: the open files the new one is made from; `path` must not be one of them...
    ///   - inPlace: ...unless this is set (`compact X X`): the new file then replaces its source,
    ///     which stays whole until the new one is durable.
    /// - Throws: ``RowpackError`` `.invalidArgument` for a destination that exists (without
    ///   `overwrite`), is not a regular file, is a symbolic link or is a source; `.locked` if a
    ///   writer holds it; `.io` if the new file cannot be made.
    static func creating(
        at path: String, overwrite: Bool, sources: [FileIO] = [], inPlace: Bool = false, durability: Durability
    ) throws -> StagedFile {
        guard let found = try existingFile(at: path) else {
            return try StagedFile(destination: path, durability: durability, replacing: nil)
        }
        if !inPlace, try sources.contains(where: { sameFile(found, try status(of: $0)) }) {
            throw RowpackError(
                .invalidArgument, path: path, "is the file this operation reads from; choose another destination")
        }
        guard overwrite else {
            throw RowpackError(.invalidArgument, path: path, "file exists; pass --force to replace it")
        }
        let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw RowpackError(
                .io, path: path, "cannot open the file to replace: \(String(cString: strerror(errno)))", errno: errno)
        }
        let existing = FileIO(adopting: FileDescriptor(rawValue: fd), path: path)
        try existing.lockForWriting()
        guard try sameFile(found, status(of: existing)) else {
            throw RowpackError(
                .locked, path: path, "the file was replaced by another process while being opened; try again")
        }
        return try StagedFile(destination: path, durability: durability, replacing: existing)
    }

    /// Starts a new file that will replace `file`, which this process opened and locked with
    /// ``FileIO/lockForWriting()`` (a rewrite in place, such as the `.npy` header rewrite).
    ///
    /// - Throws: ``RowpackError`` `.invalidArgument` if `file.path` is now a symbolic link or
    ///   another file than `file`; `.io` if the new file cannot be made.
    static func rewriting(_ file: FileIO, durability: Durability) throws -> StagedFile {
        guard let found = try existingFile(at: file.path), try sameFile(found, status(of: file)) else {
            throw RowpackError(
                .invalidArgument, path: file.path, "the file was replaced by another process while open; try again")
        }
        return try StagedFile(destination: file.path, durability: durability, replacing: file)
    }

    /// Makes the new file the destination, durably per ``Durability``, and releases the lock on
    /// the file it replaced. The new file stays open in ``io``.
    ///
    /// - Throws: ``RowpackError`` `.invalidArgument` if a file appeared at the destination
    ///   (when nothing was to be replaced); `.io` if syncing, linking or renaming fails — the
    ///   destination is then as it was.
    func publish() throws {
        precondition(!isPublished, "a staged file is published once")
        if durability != .none { try io.sync("\(destination) was left as it was") }
        if replaced == nil {
            try link(to: destination)
            if let hiddenName {
                unlink(directory + "/" + hiddenName)
                self.hiddenName = nil
            }
        } else {
            if hiddenName == nil {
                let name = Self.hiddenName()
                try link(to: directory + "/" + name)
                hiddenName = name
            }
            guard let hiddenName, rename(directory + "/" + hiddenName, destination) == 0 else {
                throw RowpackError(
                    .io, path: destination,
                    "cannot rename the new file into place: \(String(cString: strerror(errno)))", errno: errno)
            }
            self.hiddenName = nil
        }
        isPublished = true
        defer { replaced = nil }  // closing it releases the lock, after the directory is synced
        if durability != .none { try syncDirectory() }
    }

    /// Gives the new file the name `name` (a hard link: the file keeps any name it has).
    private func link(to name: String) throws {
        let result: Int32
        if let hiddenName {
            result = Glibc.link(directory + "/" + hiddenName, name)
        } else {
            result = linkat(AT_FDCWD, "/proc/self/fd/\(io.descriptor.rawValue)", AT_FDCWD, name, AT_SYMLINK_FOLLOW)
        }
        guard result == 0 else {
            let code = errno
            if code == EEXIST {
                throw RowpackError(
                    .invalidArgument, path: destination, "file exists; pass --force to replace it", errno: code)
            }
            throw RowpackError(
                .io, path: destination, "cannot link the new file into place: \(String(cString: strerror(code)))",
                errno: code)
        }
    }

    private func syncDirectory() throws {
        let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, fsync(fd) == 0 else {
            let code = errno
            if fd >= 0 { close(fd) }
            throw RowpackError(
                .io, path: destination,
                "the file is in place, but syncing its directory \(directory) failed (\(String(cString: strerror(code)))); it may not survive a crash",
                errno: code)
        }
        close(fd)
    }

    // MARK: Checks

    /// The status of the file at `path` (not following a symbolic link), nil if there is none;
    /// throws unless it is a regular file.
    private static func existingFile(at path: String) throws -> stat? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw RowpackError(
                .io, path: path, "cannot check the destination: \(String(cString: strerror(code)))", errno: code)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return info
        case S_IFLNK:
            throw RowpackError(
                .invalidArgument, path: path, "is a symbolic link; refusing to replace it (name the file it points to)")
        case S_IFDIR: throw RowpackError(.invalidArgument, path: path, "is a directory, not a regular file")
        default:
            throw RowpackError(
                .invalidArgument, path: path, "is not a regular file (a device, FIFO or socket); refusing to replace it"
            )
        }
    }

    private static func status(of file: FileIO) throws -> stat {
        var info = stat()
        guard fstat(file.descriptor.rawValue, &info) == 0 else {
            throw RowpackError(.io, path: file.path, "fstat failed: \(String(cString: strerror(errno)))", errno: errno)
        }
        return info
    }

    private static func sameFile(_ a: stat, _ b: stat) -> Bool {
        a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    // MARK: Hidden names

    private static func hiddenName() -> String {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return hiddenPrefix + "\(getpid())-" + String(repeating: "0", count: 8 - random.count) + random + hiddenSuffix
    }

    /// Removes hidden files of processes that no longer exist from `directory` (best effort:
    /// a name that cannot be removed is left for the next time).
    private static func removeStaleTemporaries(in directory: String) {
        guard let listing = opendir(directory) else { return }
        defer { closedir(listing) }
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(hiddenPrefix), name.hasSuffix(hiddenSuffix) else { continue }
            let fields = name.dropFirst(hiddenPrefix.count).dropLast(hiddenSuffix.count).split(separator: "-")
            guard fields.count == 2, fields[1].count == 8, UInt32(fields[1], radix: 16) != nil,
                let pid = pid_t(fields[0]), pid > 0, pid != getpid()
            else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + name) }
        }
    }
}
