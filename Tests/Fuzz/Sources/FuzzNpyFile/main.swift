import FuzzSupport
import Rowpack
import RowpackFormat

// libFuzzer harness: a whole `.npy` file, through the public API, as `import`, `npy-append` and
// `recover` meet it: open (header, size checks, row-bytes arithmetic), the in-place header
// rewrite planner (every state of the plan parses as the old or the new array), then append
// one row, recover, and check that every row the file had is still there and the header equals
// the data. Input: the file.
#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpyFile(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = inputBytes(start, count)
    guard Scratch.write(bytes) else { fatalError("cannot write \(Scratch.path)") }
    let file: NpyFile
    do { file = try NpyFile(path: Scratch.path) } catch { return 0 }
    let header = file.header
    invariant(header.dataOffset <= bytes.count, "header longer than the file")
    invariant(header.dataByteCount <= bytes.count - header.dataOffset, "data claimed past the file's end")
    invariant(file.trailingBytes >= 0, "negative trailing bytes")
    let (whole, overflow) = header.rowBytes.multipliedReportingOverflow(by: header.rows)
    invariant(!overflow && whole == header.dataByteCount, "rows × rowBytes != dataByteCount for \(header.shape)")
    let headerBytes = Array(bytes[0..<header.dataOffset])
    checkPlan(from: headerBytes, header: header)
    guard !header.shape.isEmpty, !(header.fortranOrder && header.shape.count > 1), header.rowBytes > 0,
        header.rowBytes <= 1 << 16
    else { return 0 }
    let data = Array(bytes[header.dataOffset..<header.dataOffset + header.dataByteCount])
    // recover cuts what the header does not claim; the claimed rows stay.
    do {
        let recovery = try NpyAppendFile.recover(path: Scratch.path)
        invariant(recovery.rowsAfter == header.rows, "recover changed the row count without being asked")
    } catch { return 0 }
    let appender: NpyAppendFile
    do { appender = try NpyAppendFile(path: Scratch.path, durability: .none) } catch { return 0 }
    let row = [UInt8](repeating: 0xA5, count: header.rowBytes)
    do { try row.withUnsafeBytes { try appender.append(rawRows: $0) } } catch { return 0 }
    let after: NpyFile
    do { after = try NpyFile(path: Scratch.path) } catch { fatalError("the appended file does not open: \(error)") }
    invariant(after.header.shape == [header.rows + 1] + header.rowShape, "append gave shape \(after.header.shape)")
    invariant(after.trailingBytes == 0, "header and data disagree after an append")
    let content = Scratch.read()
    invariant(content.count == after.header.dataOffset + data.count + row.count, "wrong size after an append")
    invariant(Array(content[after.header.dataOffset...]) == data + row, "an append changed the rows")
    return 0
}

/// The rewrite of `bytes` for one more row: when a plan exists, every state it passes through
/// (each step changes one sector) parses as the old or the new array.
func checkPlan(from bytes: [UInt8], header: NpyHeader) {
    guard let first = header.shape.first, first < Int.max, !header.fortranOrder || header.shape.count < 2,
        let new = try? header.withShape([first + 1] + header.rowShape)
    else { return }
    let plan: NpyHeaderUpdate?
    do { plan = try NpyHeaderUpdate(from: bytes, to: new) } catch { fatalError("planning failed: \(error)") }
    guard let plan else { return }
    var state = bytes
    for step in plan.steps {
        invariant(step.offset % 512 == 0 && step.bytes.count <= 512, "a step writes more than one sector")
        state.replaceSubrange(step.offset..<step.offset + step.bytes.count, with: step.bytes)
        let parsed = try? NpyHeader(parsing: state)
        invariant(
            parsed?.shape == header.shape || parsed?.shape == [first + 1] + header.rowShape,
            "a plan state reads as \(String(describing: parsed?.shape))")
    }
    invariant(state == new, "the plan does not end at the new header")
}


