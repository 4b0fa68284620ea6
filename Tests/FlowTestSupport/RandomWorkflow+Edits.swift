import Foundation

/// Step instances and user edits of a `RandomWorkflow`.
extension RandomWorkflow {
    /// One step instance as flow names it (`s2[3]`, `s4[src/s1.txt]`) and the outputs it declares
    /// (directories with a trailing `/`).
    public struct Instance: Equatable {
        public var name: String
        public var outputs: [String]
    }

    func value(_ name: String, _ overrides: [String: String]) -> String {
        overrides[name] ?? sizes[name].map(String.init) ?? tags[name] ?? lists[name]?.joined(separator: ", ") ?? ""
    }

    /// The instances of every step, in .dag order, under the `--set` values `overrides`.
    public func instances(overrides: [String: String]) -> [Instance] {
        let sourceFiles = sources.keys.filter { $0.hasPrefix("src/") && $0.hasSuffix(".txt") }.sorted()
        func stem(_ path: String) -> String { String(path.split(separator: "/").last!.dropLast(4)) }
        var result: [Instance] = []
        for s in steps {
            switch s.domain {
            case .single:
                result.append(Instance(name: s.name, outputs: [s.outputDirectory ? "gen/\(s.name)/" : "gen/\(s.name).txt"]))
            case .range(let size):
                for i in 0..<(Int(value(size, overrides)) ?? 0) {
                    result.append(Instance(name: "\(s.name)[\(i)]", outputs: ["gen/\(s.name)/\(String(format: "%03d", i)).txt"]))
                }
            case .sources:
                for f in sourceFiles { result.append(Instance(name: "\(s.name)[\(f)]", outputs: ["gen/\(s.name)/\(stem(f)).txt"])) }
            case .values(let list):
                for c in value(list, overrides).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    result.append(Instance(name: "\(s.name)[\(c)]", outputs: ["gen/\(s.name)/\(c).txt"]))
                }
            case .product(let list, let size):
                for c in value(list, overrides).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    for seed in 0..<(Int(value(size, overrides)) ?? 0) {
                        result.append(Instance(name: "\(s.name)[\(c),\(seed)]", outputs: ["gen/\(s.name)/\(c)-\(seed).txt"]))
                    }
                }
            case .produced(let up):
                for f in ["a", "b"] {
                    result.append(Instance(name: "\(s.name)[gen/\(up)/\(f).txt]", outputs: ["gen/\(s.name)/\(f).txt"]))
                }
            }
        }
        return result
    }

    /// A change a user makes between two runs.
    public enum Edit: CustomStringConvertible {
        /// `--set NAME=VALUE` from now on; nil: no longer set (back to the .dag's value).
        case set(String, String?)
        case addSource(String, String)
        case deleteSource(String)
        case editSource(String, String)
        /// The step's command changes (its `s<salt>` marker), in the .dag.
        case editCommand(step: String, salt: Int)
        /// A file or directory that the last run wrote is deleted by hand.
        case deleteOutput(String)

        public var description: String {
            switch self {
            case .set(let k, let v?): return "--set \(k)=\(v)"
            case .set(let k, nil): return "drop --set \(k)"
            case .addSource(let p, _): return "add \(p)"
            case .deleteSource(let p): return "rm \(p)"
            case .editSource(let p, _): return "edit \(p)"
            case .editCommand(let s, let salt): return "edit the command of \(s) (s\(salt))"
            case .deleteOutput(let p): return "rm -r \(p)"
            }
        }
    }

    /// Draws an edit that keeps the workflow valid (ranges of 1 to 5, at least one `src/` file).
    public func randomEdit<G: RandomNumberGenerator>(overrides: [String: String], using rng: inout G) -> Edit {
        let srcFiles = sources.keys.filter { $0.hasPrefix("src/") }.sorted()
        while true {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0, 1:
                let name = sizes.keys.sorted().randomElement(using: &rng)!
                return .set(name, String(Int.random(in: 1...5, using: &rng)))
            case 2:
                let name = tags.keys.sorted().randomElement(using: &rng)!
                if overrides[name] != nil && Bool.random(using: &rng) { return .set(name, nil) }
                return .set(name, Self.tagValues.randomElement(using: &rng)!)
            case 3:
                guard let p = Self.sourceNames.filter({ sources[$0] == nil }).randomElement(using: &rng) else { continue }
                return .addSource(p, Self.text(using: &rng))
            case 4:
                guard srcFiles.count > 1 else { continue }
                return .deleteSource(srcFiles.randomElement(using: &rng)!)
            case 5:
                return .editSource(sources.keys.sorted().randomElement(using: &rng)!, Self.text(using: &rng))
            case 6:
                let s = steps.randomElement(using: &rng)!
                // Often back to an earlier command, whose results the cache holds.
                return .editCommand(step: s.name, salt: s.salt > 0 && Bool.random(using: &rng) ? s.salt - 1 : s.salt + 1)
            default:
                let outputs = instances(overrides: overrides).flatMap(\.outputs)
                var p = outputs.randomElement(using: &rng)!
                if p.hasSuffix("/") && Bool.random(using: &rng) { p += "a.txt" }
                return .deleteOutput(p.hasSuffix("/") ? String(p.dropLast()) : p)
            }
        }
    }

    /// Applies an edit to the model (the .dag and the sources); `overrides` are the `--set` values.
    public mutating func apply(_ edit: Edit, overrides: inout [String: String]) {
        switch edit {
        case .set(let k, let v): overrides[k] = v
        case .addSource(let p, let text), .editSource(let p, let text): sources[p] = text
        case .deleteSource(let p): sources[p] = nil
        case .editCommand(let name, let salt):
            if let i = steps.firstIndex(where: { $0.name == name }) { steps[i].salt = salt }
        case .deleteOutput: break
        }
    }
}
