/* COpenBLAS: the C headers Swift imports for libopenblas. */
#pragma once
#include <cblas.h>
