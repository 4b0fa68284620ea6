// FlowFormats (work in progress).
