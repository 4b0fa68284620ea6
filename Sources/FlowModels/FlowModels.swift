// FlowModels (work in progress).
