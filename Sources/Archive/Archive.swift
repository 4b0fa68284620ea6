// Archive: a Swift wrapper over CArchive (work in progress).
import CArchive
