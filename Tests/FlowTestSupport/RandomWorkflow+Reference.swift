import Foundation

/// What a clean run of a `RandomWorkflow` depends on, so that the differential test runs one
/// clean run per configuration a walk reaches, however often it comes back to it.
extension RandomWorkflow {
    /// A text that two configurations share only if a clean run writes the same outputs for both:
    /// the .dag with the `--set` values in `overrides` folded in, without the variables no step
    /// uses, and the source files some step reads. (Steps read only what they declare: `cfg/`
    /// files by name, `src/` files through a fan-out over `src/*.txt`.)
    public func referenceKey(overrides: [String: String]) -> String {
        var effective = self
        for (name, value) in overrides {
            if effective.sizes[name] != nil {
                effective.sizes[name] = Int(value)
            } else if effective.tags[name] != nil {
                effective.tags[name] = value
            } else if effective.lists[name] != nil {
                effective.lists[name] = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
        }
        var used = Set<String>()
        var readsSrc = false
        var files = Set<String>()
        for s in steps {
            switch s.domain {
            case .range(let size): used.insert(size)
            case .values(let list): used.insert(list)
            case .product(let list, let size): used.formUnion([list, size])
            case .sources: readsSrc = true
            case .single, .produced: break
            }
            if let tag = s.tag { used.insert(tag) }
            for case .file(let path) in s.inputs { files.insert(path) }
        }
        effective.sizes = effective.sizes.filter { used.contains($0.key) }
        effective.tags = effective.tags.filter { used.contains($0.key) }
        effective.lists = effective.lists.filter { used.contains($0.key) }
        let read = sources.filter { (readsSrc && $0.key.hasPrefix("src/")) || files.contains($0.key) }
        return effective.render() + read.sorted { $0.key < $1.key }.map { "--- \($0.key)\n\($0.value)" }.joined()
    }
}
