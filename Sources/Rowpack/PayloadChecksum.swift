internal import CRowpackKernels
import RowpackFormat

/// CRC-32C of chunk payloads (`Spec/FORMAT.md` §2): the CPU's instruction where it has one
/// (about 4× the software table walk, which would otherwise dominate a single-row read),
/// `CRC32C` from RowpackFormat elsewhere. Both compute the same function.
enum PayloadChecksum {
    private static let hardware = rowpack_crc32c_hardware_available() != 0

    static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard hardware, let base = bytes.baseAddress else { return CRC32C.checksum(bytes) }
        return ~rowpack_crc32c_hardware(~0, base, bytes.count)
    }

    static func compute(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { compute($0) }
    }
}
