/* CTurboJPEG: the C headers Swift imports for libturbojpeg. */
#pragma once
#include <stddef.h>
#include <turbojpeg.h>
