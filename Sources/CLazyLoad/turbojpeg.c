/* libturbojpeg, for JPEG images (JPEG module). */
#include "../CTurboJPEG/shim.h"
#include "forward.h"

static struct flow_lazy_library turbojpeg = {"libturbojpeg.so.0", "libturbojpeg0", 0};

FLOW_FORWARD(turbojpeg, int, tjCompress2, (tjhandle handle, const unsigned char *srcBuf, int width, int pitch, int height, int pixelFormat, unsigned char **jpegBuf, unsigned long *jpegSize, int jpegSubsamp, int jpegQual, int flags), (handle, srcBuf, width, pitch, height, pixelFormat, jpegBuf, jpegSize, jpegSubsamp, jpegQual, flags))
FLOW_FORWARD(turbojpeg, int, tjDecompress2, (tjhandle handle, const unsigned char *jpegBuf, unsigned long jpegSize, unsigned char *dstBuf, int width, int pitch, int height, int pixelFormat, int flags), (handle, jpegBuf, jpegSize, dstBuf, width, pitch, height, pixelFormat, flags))
FLOW_FORWARD(turbojpeg, int, tjDecompressHeader3, (tjhandle handle, const unsigned char *jpegBuf, unsigned long jpegSize, int *width, int *height, int *jpegSubsamp, int *jpegColorspace), (handle, jpegBuf, jpegSize, width, height, jpegSubsamp, jpegColorspace))
FLOW_FORWARD(turbojpeg, int, tjDestroy, (tjhandle handle), (handle))
FLOW_FORWARD_VOID(turbojpeg, tjFree, (unsigned char *buffer), (buffer))
FLOW_FORWARD(turbojpeg, int, tjGetErrorCode, (tjhandle handle), (handle))
FLOW_FORWARD(turbojpeg, char *, tjGetErrorStr2, (tjhandle handle), (handle))
FLOW_FORWARD(turbojpeg, tjhandle, tjInitCompress, (void), ())
FLOW_FORWARD(turbojpeg, tjhandle, tjInitDecompress, (void), ())
