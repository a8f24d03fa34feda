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
            // Byte planes differ wildly (exponents repeat, low mantissa bytes are noise): zstd
            // compresses each plane in its own blocks, so each gets its own entropy tables.
            let planes = elementSize <= 16 && raw.count / elementSize >= 1024 ? elementSize : 1
            payload = filtered.withUnsafeBytes { compress($0, planes: planes) }
        } else {
            payload = compress(raw, planes: 1)
        }
        let record = ChunkRecord(
            chunk: chunk, rows: rows, rawLength: raw.count, storedLength: payload.count, codec: codec, level: level,
            filter: filtered == nil ? .none : .shuffle, elementSize: filtered == nil ? 1 : elementSize,
            payloadChecksum: PayloadChecksum.compute(payload))
        return EncodedChunk(record: record, payload: payload)
    }

    /// Compresses `input`; for zstd with `planes` > 1, `input` is that many equal byte planes
    /// (plus a tail), each ended with a flush so it starts a new block — still one frame.
    private func compress(_ input: UnsafeRawBufferPointer, planes: Int) -> [UInt8] {
        switch codec {
        case .none:
            return Array(input)
        case .zstd:
            // Room for the worst case plus a block header per flush.
            let bound = ZSTD_compressBound(input.count) + 8 * planes
            return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                count = ZstdContexts.shared.withCompressor { context in
                    guard planes > 1, let base = input.baseAddress else {
                        let written = ZSTD_compressCCtx(
                            context, buffer.baseAddress, bound, input.baseAddress, input.count, Int32(level))
                        // Compression into a compressBound-sized buffer cannot fail for valid levels.
                        precondition(ZSTD_isError(written) == 0, "zstd compression failed")
                        return written
                    }
                    ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
                    ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level))
                    ZSTD_CCtx_setPledgedSrcSize(context, UInt64(input.count))
                    var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: bound, pos: 0)
                    let plane = input.count / planes
                    for index in 0..<planes {
                        let last = index == planes - 1
                        var source = ZSTD_inBuffer(
                            src: base + index * plane, size: last ? input.count - index * plane : plane, pos: 0)
                        let status = ZSTD_compressStream2(context, &output, &source, last ? ZSTD_e_end : ZSTD_e_flush)
                        precondition(
                            ZSTD_isError(status) == 0 && status == 0 && source.pos == source.size,
                            "zstd compression failed")
                    }
                    return output.pos
                }
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
    /// Checks `payload` against this record before anything is allocated for its output: its
    /// length, its checksum, and for zstd its framing — the frame magic, exactly one frame
    /// filling the payload (§4.1), no dictionary named (a Dictionary_ID of 0 is none), and a
    /// declared content size equal to `rawLength` — so a
    /// hostile record cannot make a reader allocate the chunk it claims.
    ///
    /// - Throws: ``FormatError`` naming the chunk.
    func check(payload: UnsafeRawBufferPointer) throws(FormatError) {
        guard payload.count == storedLength else {
            throw FormatError(
                .truncated, chunk: chunk, "chunk payload is \(payload.count) bytes, record says \(storedLength)")
        }
        guard PayloadChecksum.compute(payload) == payloadChecksum else {
            throw FormatError(.checksumMismatch, chunk: chunk, "chunk payload checksum mismatch")
        }
        guard codec == .zstd else { return }
        // The current frame magic 28 B5 2F FD first: libzstd would also decode legacy frames.
        let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
        guard payload.count >= 4, payload.prefix(4).elementsEqual(magic),
            ZSTD_findFrameCompressedSize(payload.baseAddress, payload.count) == payload.count
        else {
            throw FormatError(
                .invalidValue, chunk: chunk, "zstd payload is not exactly one frame of \(payload.count) bytes")
        }
        // A Dictionary_ID field may be present, but 0: "no dictionary" (RFC 8878 §3.1.1.1.3).
        let dictionary = ZSTD_getDictID_fromFrame(payload.baseAddress, payload.count)
        guard dictionary == 0 else {
            throw FormatError(.invalidValue, chunk: chunk, "zstd frame needs dictionary \(dictionary); chunks use none")
        }
        let declared = ZSTD_getFrameContentSize(payload.baseAddress, payload.count)
        guard declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == UInt64(rawLength) else {
            throw FormatError(
                .invalidValue, chunk: chunk, "zstd frame declares \(declared) bytes, record says \(rawLength)")
        }
    }

    /// Decodes a payload that passed ``check(payload:)`` into `output`, which must be exactly
    /// `rawLength` bytes. Decompression never writes past `output`; a payload that expands to
    /// any other size is an error (a decompression bomb stops at the indexed size).
    ///
    /// - Throws: ``FormatError`` naming the chunk when the codec stream or size is wrong.
    func decode(checkedPayload payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(FormatError)
    {
        precondition(output.count == rawLength, "decode buffer must be exactly rawLength")
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

    private func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        throws(FormatError)
    {
        switch codec {
        case .none:
            if rawLength > 0, let base = input.baseAddress {
                output.baseAddress?.copyMemory(from: base, byteCount: rawLength)
            }
        case .zstd:
            let written = ZstdContexts.shared.withDecompressor { context in
                ZSTD_decompressDCtx(context, output.baseAddress, output.count, input.baseAddress, input.count)
            }
            if ZSTD_isError(written) != 0 {
                throw FormatError(
                    .invalidValue, chunk: chunk,
                    "zstd payload does not decode: \(String(cString: ZSTD_getErrorName(written)))")
            }
            guard written == rawLength else {
                throw FormatError(
                    .invalidValue, chunk: chunk, "zstd payload decodes to \(written) bytes, record says \(rawLength)")
            }
        case .zlib:
            var length = uLongf(output.count)
            var consumed = uLong(input.count)
            let status = uncompress2(
                output.baseAddress?.assumingMemoryBound(to: Bytef.self), &length,
                input.baseAddress?.assumingMemoryBound(to: Bytef.self), &consumed)
            guard status == Z_OK, Int(length) == rawLength, Int(consumed) == input.count else {
                throw FormatError(
                    .invalidValue, chunk: chunk, "zlib payload does not decode to \(rawLength) bytes (status \(status))"
                )
            }
        }
    }
}
