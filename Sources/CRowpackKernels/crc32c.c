// Hardware CRC-32C (Castagnoli), the checksum of Spec/FORMAT.md §2, for chunk payloads.
// The portable software implementation lives in RowpackFormat (CRC32C.swift); this file only
// adds the x86-64 SSE4.2 instruction, chosen at run time.
#include "rowpack_kernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int rowpack_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t rowpack_crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = _mm_crc32_u8(c32, *p);
        p++;
        length--;
    }
    return c32;
}
#else
int rowpack_crc32c_hardware_available(void) { return 0; }
uint32_t rowpack_crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return crc;
}
#endif
