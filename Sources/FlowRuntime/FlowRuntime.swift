// FlowRuntime: the engine on a real machine (work in progress).
import FlowCore
