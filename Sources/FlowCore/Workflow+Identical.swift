extension Workflow {
    /// True when `other` is this workflow field for field, down to which step instances share
    /// one `Step.Shared` storage (the instances of a fan-out do): what a decoded memo must be.
    public func isIdentical(to other: Workflow) -> Bool {
        guard steps.count == other.steps.count, order == other.order, variables == other.variables, files == other.files,
              deferred == other.deferred, warnings == other.warnings, externals == other.externals else { return false }
        for (a, b) in zip(steps, other.steps) where a != b || a.explicitParameters != b.explicitParameters { return false }
        return storageGroups == other.storageGroups
    }

    /// For each step, the first step that shares its storage.
    var storageGroups: [Int] {
        var first: [ObjectIdentifier: Int] = [:]
        return steps.indices.map { i in
            let key = ObjectIdentifier(steps[i].storage)
            if let f = first[key] { return f }
            first[key] = i
            return i
        }
    }
}
