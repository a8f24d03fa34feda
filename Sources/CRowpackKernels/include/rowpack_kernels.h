#ifndef ROWPACK_KERNELS_H
#define ROWPACK_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Nonzero when this CPU has the SSE4.2 CRC-32C instruction.
int rowpack_crc32c_hardware_available(void);

/// CRC-32C of `length` bytes continuing from `crc` (pass ~0 to start, complement the result),
/// using the SSE4.2 instruction. Call only when rowpack_crc32c_hardware_available() is nonzero.
uint32_t rowpack_crc32c_hardware(uint32_t crc, const void *bytes, size_t length);

/// The index of the last of the first `length` bytes equal to `byte`, or -1 (the commit
/// search's backward scan for an end magic; memrchr where the C library has it).
ptrdiff_t rowpack_last_index_of_byte(const void *bytes, int byte, size_t length);

#endif
