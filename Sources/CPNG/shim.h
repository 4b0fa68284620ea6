/* CPNG: the C headers Swift imports for libpng16. */
#pragma once
#include <png.h>
// PNG_IMAGE_SIZE and the PNG_FORMAT_* values are macros that Swift does not import.
static inline size_t flow_png_image_size(const png_image *img) { return PNG_IMAGE_SIZE(*img); }
static inline unsigned int flow_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline unsigned int flow_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline unsigned int flow_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
