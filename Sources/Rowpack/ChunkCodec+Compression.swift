internal import CZlib
internal import CZstd
import RowpackFormat
import Synchronization

/// A compressed chunk ready to be written: record header fields plus payload.
struct EncodedChunk: Sendable {
    var record: ChunkRecord
    var payload: [UInt8]
}

/// Per-thread zstd contexts, reused across calls so small chunks do not pay for allocating
/// a context each time.
final class ZstdContexts: Sendable {
    /// A context pointer owned by exactly one caller between `take` and `give` (the invariant
    /// that makes the `@unchecked Sendable` safe).
    struct Context: @unchecked Sendable { let pointer: OpaquePointer }

    private let compressors = Mutex<[Context]>([])
    private let decompressors = Mutex<[Context]>([])

    static let shared = ZstdContexts()

    func withCompressor<R>(_ body: (OpaquePointer) -> R) -> R {
        let context = compressors.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createCCtx())
        defer { compressors.withLock { $0.append(context) } }
        return body(context.pointer)
    }

    func withDecompressor<R>(_ body: (OpaquePointer) -> R) -> R {
        let context = decompressors.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createDCtx())
        defer { decompressors.withLock { $0.append(context) } }
        return body(context.pointer)
    }
}

/// The settings one chunk is encoded with.
struct ChunkEncoding: Sendable {
    var codec: ChunkCodec
    var level: Int
    var filter: ChunkFilter
    var elementSize: Int
}

extension ChunkEncoding {
    /// Filters and compresses `rows` rows of raw bytes into a chunk record.
    ///
    /// Cost: O(raw bytes); allocates the payload and, with a filter, one scratch buffer.
    func encode(_ raw: UnsafeRawBufferPointer, chunk: Int, rows: Int) -> EncodedChunk {
        let filtered: [UInt8]?
        if filter == .shuffle && elementSize > 1 {
            filtered = [UInt8](unsafeUninitializedCapacity: raw.count) { buffer, count in
                Shuffle.shuffle(raw, into: UnsafeMutableRawBufferPointer(buffer), width: elementSize)
                count = raw.count
            }
        } else {
            filtered = nil
        }
        let payload: [UInt8]
        if let filtered {
            payload = filtered.withUnsafeBytes { compress($0) }
        } else {
            payload = compress(raw)
        }
        let record = ChunkRecord(
            chunk: chunk, rows: rows, rawLength: raw.count, storedLength: payload.count, codec: codec, level: level,
            filter: filtered == nil ? .none : .shuffle, elementSize: filtered == nil ? 1 : elementSize,
            payloadChecksum: PayloadChecksum.compute(payload))
        return EncodedChunk(record: record, payload: payload)
    }

    private func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        switch codec {
        case .none:
            return Array(input)
        case .zstd:
            let bound = ZSTD_compressBound(input.count)
            return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                let written = ZstdContexts.shared.withCompressor { context in
                    ZSTD_compressCCtx(context, buffer.baseAddress, bound, input.baseAddress, input.count, Int32(level))
                }
                // Compression into a compressBound-sized buffer cannot fail for valid levels.
                precondition(ZSTD_isError(written) == 0, "zstd compression failed")
                count = written
            }
        case .zlib:
            let bound = Int(compressBound(uLong(input.count)))
            return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                var length = uLongf(bound)
                let status = compress2(
                    buffer.baseAddress, &length, input.baseAddress?.assumingMemoryBound(to: Bytef.self),
                    uLong(input.count), Int32(level))
                precondition(status == Z_OK, "zlib compression failed")
                count = Int(length)
            }
        }
    }
}

extension ChunkRecord {
    /// Checks `payload` against this record and decodes it into `output`, which must be exactly
    /// `rawLength` bytes. Decompression never writes past `output`; a payload that expands to
    /// any other size is an error (a decompression bomb stops at the indexed size).
    ///
    /// - Throws: ``FormatError`` naming the chunk when the checksum, codec stream or size is wrong.
    func decode(payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(FormatError) {
        precondition(output.count == rawLength, "decode buffer must be exactly rawLength")
        guard payload.count == storedLength else {
            throw FormatError(.truncated, chunk: chunk, "chunk payload is \(payload.count) bytes, record says \(storedLength)")
        }
        guard PayloadChecksum.compute(payload) == payloadChecksum else {
            throw FormatError(.checksumMismatch, chunk: chunk, "chunk payload checksum mismatch")
        }
        guard rawLength > 0 else { return }
        if filter == .shuffle && elementSize > 1 {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: rawLength, alignment: 16)
            defer { scratch.deallocate() }
            try decompress(payload, into: scratch)
            Shuffle.unshuffle(UnsafeRawBufferPointer(scratch), into: output, width: elementSize)
        } else {
            try decompress(payload, into: output)
        }
    }

    private func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(FormatError) {
        switch codec {
        case .none:
            if rawLength > 0, let base = input.baseAddress { output.baseAddress?.copyMemory(from: base, byteCount: rawLength) }
        case .zstd:
            // Exactly one frame, filling the whole payload (§4.1): no trailing or skippable frames.
            // The current frame magic 28 B5 2F FD first: libzstd would also decode legacy frames.
            let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
            guard input.count >= 4, input.prefix(4).elementsEqual(magic),
                ZSTD_findFrameCompressedSize(input.baseAddress, input.count) == input.count
            else {
                throw FormatError(.invalidValue, chunk: chunk, "zstd payload is not exactly one frame of \(input.count) bytes")
            }
            let written = ZstdContexts.shared.withDecompressor { context in
                ZSTD_decompressDCtx(context, output.baseAddress, output.count, input.baseAddress, input.count)
            }
            if ZSTD_isError(written) != 0 {
                throw FormatError(.invalidValue, chunk: chunk, "zstd payload does not decode: \(String(cString: ZSTD_getErrorName(written)))")
            }
            guard written == rawLength else {
                throw FormatError(.invalidValue, chunk: chunk, "zstd payload decodes to \(written) bytes, record says \(rawLength)")
            }
        case .zlib:
            var length = uLongf(output.count)
            var consumed = uLong(input.count)
            let status = uncompress2(
                output.baseAddress?.assumingMemoryBound(to: Bytef.self), &length,
                input.baseAddress?.assumingMemoryBound(to: Bytef.self), &consumed)
            guard status == Z_OK, Int(length) == rawLength, Int(consumed) == input.count else {
                throw FormatError(.invalidValue, chunk: chunk, "zlib payload does not decode to \(rawLength) bytes (status \(status))")
            }
        }
    }
}
