// PNG: a Swift wrapper over CPNG (work in progress).
import CPNG
