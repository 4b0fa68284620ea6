/* CXXHash: the C headers Swift imports for libxxhash. */
#pragma once
#include <xxhash.h>
#include <xxh_x86dispatch.h>
