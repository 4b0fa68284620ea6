// FlowNumerics (work in progress).
