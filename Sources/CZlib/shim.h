#ifndef ROWPACK_CZLIB_SHIM_H
#define ROWPACK_CZLIB_SHIM_H
#include <zlib.h>
#endif
