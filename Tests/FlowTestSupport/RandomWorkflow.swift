/// A random workflow for differential tests: source files, `let` variables and 3 to 5 layers of
/// steps whose shell commands are deterministic functions of their inputs (cat, sort, tr, wc,
/// cksum), rendered as a .dag; and the edits a user makes to it between runs. Everything comes
/// from one seeded generator, so a seed reproduces a whole sequence.
///
/// Outputs all live under `gen/`: `gen/NAME.txt` for a single step, `gen/NAME/` (with `a.txt`
/// and `b.txt`) for a step with a directory output, `gen/NAME/<item>.txt` for each instance of
/// a fan-out. Sources are `src/*.txt` (fanned out over, added and deleted) and `cfg/*.txt`
/// (read as single files, edited, never deleted).
public struct RandomWorkflow {
    /// Forms the engine is about to get (issue #14). Each is off until the engine has it; turn
    /// one on to have the generator use it, and adjust its spelling in `render` if it differs.
    public struct Switches {
        /// `step t[C in 0.01, 0.1, 1]` and lists held in variables, `--set Cs=...` (#14 item 3).
        public var valueLists = false
        /// `step t[C in {Cs}, seed in 0..<{n}]` (#14 item 3). `instances` names them `t[C, seed]`:
        /// if the engine puts a blank in the name, `RunOutcomes.parse` must learn to read it.
        public var products = false
        /// All outputs of a fan-out as inputs, in instance order (#14 item 2), spelled
        /// `in gen/NAME/*.txt` here until the engine settles on its syntax (`gatherInput`).
        public var gathers = false
        /// `step s[f in gen/D/*.txt]` over the files an upstream step writes into its output
        /// directory, expanded within the same run (#14 item 4).
        public var producedFileFanouts = false
        public init(valueLists: Bool = false, products: Bool = false, gathers: Bool = false, producedFileFanouts: Bool = false) {
            self.valueLists = valueLists
            self.products = products
            self.gathers = gathers
            self.producedFileFanouts = producedFileFanouts
        }
        /// Every form the generator knows.
        public static let all = Switches(valueLists: true, products: true, gathers: true, producedFileFanouts: true)
    }

    public enum Domain: Equatable {
        case single
        /// `[i in 0..<{size}]`
        case range(size: String)
        /// `[f in src/*.txt]`
        case sources
        /// `[C in {list}]` (switch `valueLists`)
        case values(list: String)
        /// `[C in {list}, seed in 0..<{size}]` (switch `products`)
        case product(list: String, size: String)
        /// `[f in gen/STEP/*.txt]`, STEP a step with a directory output (switch `producedFileFanouts`)
        case produced(step: String)
    }

    public enum Input: Equatable {
        /// One file: a `cfg/` source, a single step's output, a file inside a directory output,
        /// or instance 0 of a range fan-out (ranges never shrink below one).
        case file(String)
        /// A directory holding other steps' outputs (`gen/NAME/`).
        case directory(String)
        /// The same index of an upstream range fan-out over the same size variable.
        case sameIndex(step: String)
        /// The fan-out item itself (`{f}`).
        case item
        /// Every output of a fan-out (switch `gathers`).
        case gather(step: String)
    }

    public struct StepSpec {
        public var name: String
        public var domain: Domain
        public var inputs: [Input]
        public var outputDirectory: Bool
        public var transform: Int
        public var salt: Int
        public var tag: String?
    }

    static let transforms = ["sort", "sort -r", "tr a-z A-Z", "cksum", "wc -c", "cat", "head -n 3", "tail -n 2", "uniq"]
    public static let sourceNames = (0..<8).map { "src/s\($0).txt" }
    public static let configNames = ["cfg/a.txt", "cfg/b.txt"]

    public var switches: Switches
    /// Size variables of range fan-outs and their values in the .dag.
    public var sizes: [String: Int] = [:]
    /// Value variables echoed by steps, and their values in the .dag.
    public var tags: [String: String] = [:]
    /// Value-list variables (switch `valueLists`).
    public var lists: [String: [String]] = [:]
    public var steps: [StepSpec] = []
    /// Workspace-relative path → content of every source file.
    public var sources: [String: String] = [:]

    /// A new workflow drawn from `rng`.
    public init<G: RandomNumberGenerator>(using rng: inout G, switches: Switches = Switches()) {
        self.switches = switches
        for name in Self.configNames { sources[name] = Self.text(using: &rng) }
        for name in Self.sourceNames.shuffled(using: &rng).prefix(Int.random(in: 1...4, using: &rng)) {
            sources[name] = Self.text(using: &rng)
        }
        for k in 0..<Int.random(in: 1...2, using: &rng) { sizes["n\(k)"] = Int.random(in: 1...4, using: &rng) }
        for k in 0..<Int.random(in: 1...2, using: &rng) { tags["t\(k)"] = Self.tagValues.randomElement(using: &rng)! }
        if switches.valueLists || switches.products { lists["Cs"] = ["0.01", "0.1", "1"] }
        let layers = Int.random(in: 3...5, using: &rng)
        for layer in 0..<layers {
            for _ in 0..<Int.random(in: 1...(layer == 0 ? 3 : 2), using: &rng) {
                steps.append(makeStep(layer: layer, using: &rng))
            }
        }
    }

    static let tagValues = ["red", "green", "blue", "x", "y"]

    static func text<G: RandomNumberGenerator>(using rng: inout G) -> String {
        let words = ["alpha", "beta", "gamma", "delta", "omega", "pi", "rho", "tau"]
        return (0..<Int.random(in: 1...4, using: &rng)).map { _ in
            (0..<Int.random(in: 1...3, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ")
        }.joined(separator: "\n") + "\n"
    }

    /// Files an upstream step writes that a new step may read alone.
    func singleFiles() -> [String] {
        var files = Self.configNames
        for s in steps {
            switch s.domain {
            case .single: files.append(s.outputDirectory ? "gen/\(s.name)/a.txt" : "gen/\(s.name).txt")
            case .range: files.append("gen/\(s.name)/000.txt")
            default: break
            }
        }
        return files
    }

    /// Directories that hold other steps' outputs.
    func directories() -> [String] {
        steps.filter { $0.domain != .single || $0.outputDirectory }.map { "gen/\($0.name)/" }
    }

    mutating func makeStep<G: RandomNumberGenerator>(layer: Int, using rng: inout G) -> StepSpec {
        let name = "s\(steps.count)"
        var domains: [Domain] = [.single, .single, .range(size: sizes.keys.sorted().randomElement(using: &rng)!), .sources]
        if switches.valueLists { domains.append(.values(list: "Cs")) }
        if switches.products { domains.append(.product(list: "Cs", size: sizes.keys.sorted().randomElement(using: &rng)!)) }
        if switches.producedFileFanouts, let d = steps.filter({ $0.domain == .single && $0.outputDirectory }).randomElement(using: &rng) {
            domains.append(.produced(step: d.name))
        }
        let domain = domains.randomElement(using: &rng)!
        var inputs: [Input] = []
        switch domain {
        case .sources, .produced: inputs.append(.item)
        case .range(let size):
            let sameSize = steps.filter { $0.domain == .range(size: size) }
            if let up = sameSize.randomElement(using: &rng), Bool.random(using: &rng) { inputs.append(.sameIndex(step: up.name)) }
        default: break
        }
        if layer > 0 || inputs.isEmpty {
            let extra = layer == 0 ? 1 : Int.random(in: 1...2, using: &rng)
            for _ in 0..<extra {
                let dirs = directories()
                let fanouts = steps.filter { $0.domain != .single }
                if switches.gathers, let f = fanouts.randomElement(using: &rng), Int.random(in: 0..<4, using: &rng) == 0 {
                    inputs.append(.gather(step: f.name))
                } else if !dirs.isEmpty && Bool.random(using: &rng) {
                    inputs.append(.directory(dirs.randomElement(using: &rng)!))
                } else {
                    inputs.append(.file(singleFiles().randomElement(using: &rng)!))
                }
            }
        }
        var unique: [Input] = []
        for i in inputs where !unique.contains(i) { unique.append(i) }
        return StepSpec(name: name, domain: domain, inputs: unique,
                        outputDirectory: domain == .single && Int.random(in: 0..<3, using: &rng) == 0,
                        transform: Int.random(in: 0..<Self.transforms.count, using: &rng), salt: 0,
                        tag: Bool.random(using: &rng) ? tags.keys.sorted().randomElement(using: &rng) : nil)
    }
}

extension RandomWorkflow {
    /// The .dag text.
    public func render() -> String {
        var lines: [String] = ["# generated by RandomWorkflow"]
        for (k, v) in sizes.sorted(by: { $0.key < $1.key }) { lines.append("let \(k) = \(v)") }
        for (k, v) in tags.sorted(by: { $0.key < $1.key }) { lines.append("let \(k) = \(v)") }
        for (k, v) in lists.sorted(by: { $0.key < $1.key }) { lines.append("let \(k) = \(v.joined(separator: ", "))") }
        for s in steps {
            lines.append("")
            let item: String
            switch s.domain {
            case .single:
                lines.append("step \(s.name)")
                item = ""
            case .range(let size):
                lines.append("step \(s.name)[i in 0..<{\(size)}]")
                item = " {i}"
            case .sources:
                lines.append("step \(s.name)[f in src/*.txt]")
                item = " {f.name}"
            case .values(let list):
                lines.append("step \(s.name)[C in {\(list)}]")
                item = " {C}"
            case .product(let list, let size):
                lines.append("step \(s.name)[C in {\(list)}, seed in 0..<{\(size)}]")
                item = " {C} {seed}"
            case .produced(let up):
                lines.append("step \(s.name)[f in gen/\(up)/*.txt]")
                item = " {f.name}"
            }
            var reads: [String] = []
            for input in s.inputs {
                switch input {
                case .file(let p): lines.append("  in  \(p)"); reads.append(p)
                case .directory(let d):
                    lines.append("  in  \(d)")
                    reads.append("\(d)*")
                case .sameIndex(let up): lines.append("  in  gen/\(up)/{i:03}.txt"); reads.append("gen/\(up)/{i:03}.txt")
                case .item: lines.append("  in  {f}"); reads.append("{f}")
                case .gather(let up): lines.append("  in  \(Self.gatherInput(up))"); reads.append("gen/\(up)/*")
                }
            }
            let header = "echo \(s.name) s\(s.salt)\(item)\(s.tag.map { " {\($0)}" } ?? "")"
            // Directory inputs print each file's name before its content: a file added, removed or
            // renamed in there changes the result.
            let body = reads.map { r in r.hasSuffix("*") ? "for x in \(r); do echo \"$x\"; cat \"$x\"; done" : "cat \(r)" }
                .joined(separator: "; ")
            let transform = Self.transforms[s.transform]
            let pipeline = "(\(header); (\(body.isEmpty ? "true" : body)) | \(transform))"
            switch s.domain {
            case .single where s.outputDirectory:
                lines.append("  out gen/\(s.name)/")
                lines.append("  run \(pipeline) > gen/\(s.name)/a.txt; sort gen/\(s.name)/a.txt | cksum > gen/\(s.name)/b.txt")
            case .single:
                lines.append("  out gen/\(s.name).txt")
                lines.append("  run \(pipeline) > {out}")
            default:
                lines.append("  out \(outputPattern(s))")
                lines.append("  run \(pipeline) > {out}")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// How a gather of every output of fan-out STEP is written (switch `gathers`).
    static func gatherInput(_ step: String) -> String { "\(step)[*]" }

    func outputPattern(_ s: StepSpec) -> String {
        switch s.domain {
        case .single: return s.outputDirectory ? "gen/\(s.name)/" : "gen/\(s.name).txt"
        case .range: return "gen/\(s.name)/{i:03}.txt"
        case .sources, .produced: return "gen/\(s.name)/{f.stem}.txt"
        case .values: return "gen/\(s.name)/{C}.txt"
        case .product: return "gen/\(s.name)/{C}-{seed}.txt"
        }
    }
}
