// JPEG: a Swift wrapper over CTurboJPEG (work in progress).
import CTurboJPEG
