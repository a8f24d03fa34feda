#ifndef ROWPACK_CZSTD_SHIM_H
#define ROWPACK_CZSTD_SHIM_H
#include <zstd.h>
#endif
