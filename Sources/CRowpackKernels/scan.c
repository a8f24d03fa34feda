#define _GNU_SOURCE
#include <string.h>
#include <sys/types.h>

#include "rowpack_kernels.h"

ptrdiff_t rowpack_last_index_of_byte(const void *bytes, int byte, size_t length) {
#if defined(__GLIBC__)
    const unsigned char *hit = memrchr(bytes, byte, length);
    return hit ? hit - (const unsigned char *)bytes : -1;
#else
    const unsigned char *p = bytes;
    while (length > 0) {
        length -= 1;
        if (p[length] == (unsigned char)byte) return (ptrdiff_t)length;
    }
    return -1;
#endif
}
