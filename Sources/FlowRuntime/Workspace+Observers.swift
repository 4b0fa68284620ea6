import FlowCore

extension Workspace {
    /// Who looks at the workspace, as `Workspace.observer` says.
    public enum Observer: Equatable {
        /// Nothing in particular (the run's own bookkeeping, a toolchain probe shared by every
        /// step that declares it): a change concerns the whole workflow.
        case workflow
        /// The loader: reading .dag files and listing directories for globs concerns the whole
        /// workflow; asking what kind of thing an input is concerns it only if the kind changes.
        case loading
        /// The evaluation of one step (or its restore, or the commit of its result).
        case step(StepID)
    }

    /// Who looked at one path.
    public struct Observers: Equatable {
        /// Any change to it can change the workflow itself (a .dag file, a directory a glob listed).
        public var workflow = false
        /// A change of kind (file, directory, missing) can change the workflow; content cannot.
        public var workflowKind = false
        /// The steps whose evaluation looked at it, in the order they did.
        public var steps: [StepID] = []
        public init() {}
    }
}
