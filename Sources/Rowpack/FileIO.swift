internal import CRowpackKernels
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file with positional, loop-until-done I/O and the few system calls the container
/// needs. `pread`/`pwrite` are safe from many threads at once, so one handle is shared by every
/// reader of a container.
final class FileIO: Sendable {
    let descriptor: FileDescriptor
    let path: String
    /// Bytes read through this handle so far: lets tests bound what opening or refreshing costs.
    let bytesRead = Atomic<Int>(0)
    /// Called with the offset of each block the commit search reads, before reading it: lets
    /// tests change the file in the middle of a search.
    let beforeScanBlock = Mutex<(@Sendable (Int) -> Void)?>(nil)
    /// The first failed sync, which is final for this descriptor (see ``sync(_:)``).
    private let syncFailure = Mutex<RowpackError?>(nil)

    /// Wraps an open descriptor, which the new value owns (it closes it); errors name `path`.
    init(adopting descriptor: FileDescriptor, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { try? descriptor.close() }

    /// Opens `path` read-only: a regular file (or a link to one) or a directory (whose reads
    /// then fail with EISDIR).
    ///
    /// - Throws: ``RowpackError`` `.io` when it cannot be opened, or is a device or a FIFO: those
    ///   report no size (`/dev/zero` would read as an empty file) and FIFOs cannot be read at an
    ///   offset.
    static func openForReading(_ path: String) throws -> FileIO {
        let io = try open(path, mode: .readOnly, options: [])
        var info = stat()
        guard fstat(io.descriptor.rawValue, &info) == 0 else { throw io.ioError("fstat", Errno(rawValue: Glibc.errno)) }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR else {
            let kind =
                switch type {
                case S_IFCHR: "a character device"
                case S_IFBLK: "a block device"
                case S_IFIFO: "a FIFO"
                default: "a socket"
                }
            throw RowpackError(.io, path: path, "is \(kind), not a regular file")
        }
        return io
    }

    /// Opens an existing file `path` read-write (new files are made by ``StagedFile``).
    static func openForWriting(_ path: String) throws -> FileIO {
        try open(path, mode: .readWrite, options: [])
    }

    private static func open(_ path: String, mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions)
        throws -> FileIO
    {
        do {
            let fd = try FileDescriptor.open(
                FilePath(path), mode, options: options.union(.closeOnExec),
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            return FileIO(adopting: fd, path: path)
        } catch {
            throw RowpackError(.io, path: path, "cannot open: \(error)", errno: (error as? Errno)?.rawValue)
        }
    }

    private func ioError(_ what: String, _ error: any Error, offset: Int? = nil) -> RowpackError {
        RowpackError(.io, path: path, "\(what) failed: \(error)", offset: offset, errno: (error as? Errno)?.rawValue)
    }

    /// The current file size.
    func size() throws -> Int {
        var info = stat()
        guard fstat(descriptor.rawValue, &info) == 0 else {
            throw ioError("fstat", Errno(rawValue: Glibc.errno))
        }
        return Int(info.st_size)
    }

    /// Whether ``path`` still names the file this handle has open (same device and inode):
    /// false once the path was removed or replaced, e.g. by a rename over it.
    func isStillAtPath() throws -> Bool { try isFile(at: path) }

    /// Whether `other` names the file this handle has open (same device and inode).
    func isFile(at other: String) throws -> Bool {
        var open = stat()
        guard fstat(descriptor.rawValue, &open) == 0 else { throw ioError("fstat", Errno(rawValue: Glibc.errno)) }
        var named = stat()
        guard stat(other, &named) == 0 else {
            let code = Glibc.errno
            if code == ENOENT { return false }
            throw ioError("stat", Errno(rawValue: code))
        }
        return named.st_dev == open.st_dev && named.st_ino == open.st_ino
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws (naming `what`) at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, what: @autoclosure () -> String) throws {
        var done = 0
        while done < buffer.count {
            let n: Int
            do {
                n = try descriptor.read(
                    fromAbsoluteOffset: Int64(offset + done),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            } catch {
                throw ioError("reading \(what())", error, offset: offset + done)
            }
            bytesRead.add(n, ordering: .relaxed)
            guard n > 0 else {
                throw RowpackError(
                    .corrupt, path: path, "file ends inside \(what()): need \(buffer.count) bytes, got \(done)",
                    offset: offset + done)
            }
            done += n
        }
    }

    /// Reads exactly `count` bytes at `offset`.
    func read(count: Int, at offset: Int, what: @autoclosure () -> String) throws -> [UInt8] {
        var failure: (any Error)?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do { try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset, what: what()) } catch {
                failure = error
                buffer.initialize(repeating: 0)
            }
            initialized = count
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        do {
            _ = try descriptor.writeAll(toAbsoluteOffset: Int64(offset), bytes)
        } catch {
            throw ioError("writing", error, offset: offset)
        }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws {
        var failure: (any Error)?
        bytes.withUnsafeBytes { buffer in
            do { try write(buffer, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes file data (not necessarily metadata other than the size) to stable storage.
    ///
    /// A failed sync is final for this descriptor (`Spec/FORMAT.md` §8.8): the kernel may have
    /// dropped the unwritten pages and cleared the error, so a second `fdatasync` could succeed
    /// with the data lost. Every later call throws the first failure again without syncing, and
    /// writers stop (``hasFailedSync``).
    ///
    /// - Parameter consequence: what the failure means for the caller's data, added to the
    ///   error's message ("commit 7 was not written").
    func sync(_ consequence: @autoclosure () -> String? = nil) throws {
        if let failure = syncFailure.withLock({ $0 }) { throw failure }
        guard fdatasync(descriptor.rawValue) == 0 else {
            var error = ioError("fdatasync", Errno(rawValue: Glibc.errno))
            if let consequence = consequence() { error.message += "; \(consequence)" }
            syncFailure.withLock { $0 = error }
            throw error
        }
    }

    /// Whether a sync through this descriptor failed: what it should have made durable may be
    /// lost whatever the file reads back now.
    var hasFailedSync: Bool { syncFailure.withLock { $0 != nil } }

    /// Cuts the file to `length` bytes.
    func truncate(to length: Int) throws {
        guard ftruncate(descriptor.rawValue, off_t(length)) == 0 else {
            throw ioError("truncating to \(length) bytes", Errno(rawValue: Glibc.errno))
        }
    }

    /// Releases the writer's lock (closing the file releases it too).
    func unlock() {
        _ = flock(descriptor.rawValue, LOCK_UN)
    }

    /// Takes the advisory exclusive lock that marks the one writer, without waiting, and checks
    /// that `path` still names this file: a file replaced between opening and locking (another
    /// process's `--force`) would otherwise take appends that no one ever sees.
    ///
    /// - Throws: ``RowpackError`` `.locked` if another writer holds the lock or the file was
    ///   replaced meanwhile (the lock is then released).
    func lockForWriting() throws {
        try lockUnnamed()
        var opened = stat()
        var named = stat()
        guard fstat(descriptor.rawValue, &opened) == 0, stat(path, &named) == 0,
            opened.st_dev == named.st_dev, opened.st_ino == named.st_ino
        else {
            unlock()
            throw RowpackError(
                .locked, path: path, "the file was replaced by another process while being opened; try again")
        }
    }

    /// Takes the writer's lock without checking the path (for a file that has no name yet).
    func lockUnnamed() throws {
        guard flock(descriptor.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            let code = Glibc.errno
            if code == EWOULDBLOCK {
                throw RowpackError(.locked, path: path, "another writer has the file open for appending", errno: code)
            }
            throw ioError("flock", Errno(rawValue: code))
        }
    }
}

/// Asks the kernel to back a large, freshly allocated output buffer with huge pages, so filling
/// it takes a few hundred page faults instead of one per 4 KiB (about half the time of a
/// 256 MiB read into a new array). Only whole 2 MiB pages inside the buffer are advised; on
/// kernels without transparent huge pages this does nothing.
func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
    let huge = 2 << 20
    guard buffer.count >= 2 * huge, let base = buffer.baseAddress else { return }
    let start = (UInt(bitPattern: base) + UInt(huge - 1)) & ~UInt(huge - 1)
    let end = (UInt(bitPattern: base) + UInt(buffer.count)) & ~UInt(huge - 1)
    guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(aligned, Int(end - start), MADV_HUGEPAGE)
}

/// The last index below `end` at which `bytes` holds `byte`: the commit search's backward scan
/// for an end magic, at memory speed even in debug builds.
func lastIndex(of byte: UInt8, in bytes: [UInt8], upTo end: Int) -> Int? {
    precondition(end >= 0 && end <= bytes.count)
    let found = bytes.withUnsafeBytes { rowpack_last_index_of_byte($0.baseAddress, Int32(byte), end) }
    return found < 0 ? nil : found
}
