/* CLZ4: the C headers Swift imports for liblz4. */
#pragma once
#include <lz4.h>
#include <lz4frame.h>
