import FlowCore
import Testing
import XXHash

@Suite struct ActionKeyTests {
    let digest = XXH128.hash("content")

    func definition(_ action: Action = .shell("cp a b"), env: [String: String] = [:], inputs: [String: Digest128]? = nil,
                    outputs: [String] = ["b"], variables: [String: String] = [:]) -> StepDefinition {
        StepDefinition(action: action, environment: env, outputs: outputs, inputs: inputs ?? ["a": digest], variables: variables)
    }

    @Test func keyIsStableAndCanonical() {
        let a = definition(env: ["X": "1", "Y": "2"], inputs: ["a": digest, "c": XXH128.hash("c")])
        let b = definition(env: ["Y": "2", "X": "1"], inputs: ["c": XXH128.hash("c"), "a": digest])
        #expect(a.key == b.key)
        #expect(a.canonicalText.hasPrefix("flow-action-key v1\n"))
    }

    @Test func everyFieldThatDecidesTheResultChangesTheKey() {
        let base = definition().key
        #expect(definition(.shell("cp a  b")).key != base)
        #expect(definition(env: ["X": "1"]).key != base)
        #expect(definition(inputs: ["a": XXH128.hash("other")]).key != base)
        #expect(definition(outputs: ["c"]).key != base)
        #expect(definition(.op(name: "embed", version: 1, arguments: ["--out", "b"])).key
            != definition(.op(name: "embed", version: 2, arguments: ["--out", "b"])).key)
    }

    @Test func variablesAreExplanationsNotKeyMaterial() {
        // The variable's value is already in the interpolated command; recording it must not change the key.
        #expect(definition(variables: ["seed": "0"]).key == definition().key)
    }

    @Test func lengthPrefixesKeepFieldsApart() {
        let a = definition(.op(name: "x", version: 1, arguments: ["a b", "c"]))
        let b = definition(.op(name: "x", version: 1, arguments: ["a", "b c"]))
        #expect(a.key != b.key)
    }
}

/// Keys of steps with several inputs: every input's digest, wherever it sorts, decides the key.
@Suite struct ActionKeyInputsTests {
    static let paths = ["data/a.npy", "data/b.npy", "data/emb/", "src/train.py"]
    static let digests = paths.map { XXH128.hash("content of " + $0) }

    func definition(_ inputs: [String: Digest128]) -> StepDefinition {
        StepDefinition(action: .shell("train {in}"), environment: [:], outputs: ["model/"], inputs: inputs, variables: [:])
    }

    var inputs: [String: Digest128] { Dictionary(uniqueKeysWithValues: zip(Self.paths, Self.digests)) }

    @Test(arguments: paths.indices)
    func changingAnyOneInputChangesTheKey(_ i: Int) {
        var changed = inputs
        changed[Self.paths[i]] = XXH128.hash("edited")
        #expect(definition(changed).key != definition(inputs).key, "input \(Self.paths[i]) does not enter the key")
    }

    @Test(arguments: [(0, 1), (1, 2), (2, 3), (1, 3)])
    func swappingTwoInputsDigestsChangesTheKey(_ pair: (Int, Int)) {
        var swapped = inputs
        swapped[Self.paths[pair.0]] = Self.digests[pair.1]
        swapped[Self.paths[pair.1]] = Self.digests[pair.0]
        #expect(definition(swapped).key != definition(inputs).key)
    }

    @Test func addingOrRemovingAnInputChangesTheKey() {
        let base = definition(inputs).key
        var added = inputs
        added["data/c.npy"] = XXH128.hash("c")
        #expect(definition(added).key != base)
        for p in Self.paths {
            var removed = inputs
            removed[p] = nil
            #expect(definition(removed).key != base, "removing \(p) left the key unchanged")
        }
        #expect(definition([:]).key != base)
    }

    @Test func everyKeyOfAFamilyIsDistinct() {
        // One key per subset of the inputs, and per digest choice of each: no two may collide.
        var keys: [Digest128: String] = [:]
        var collisions: [String] = []
        let alternatives = Self.paths.map { [XXH128.hash("x " + $0), XXH128.hash("y " + $0)] }
        for mask in 0..<(1 << (2 * Self.paths.count)) {
            var chosen: [String: Digest128] = [:]
            for (i, p) in Self.paths.enumerated() {
                switch (mask >> (2 * i)) & 3 {
                case 0: break
                case 1: chosen[p] = alternatives[i][0]
                case 2: chosen[p] = alternatives[i][1]
                default: chosen[p] = Self.digests[i]
                }
            }
            let key = definition(chosen).key
            if let other = keys[key] { collisions.append("\(chosen) has the key of \(other)") }
            keys[key] = "\(chosen)"
        }
        #expect(collisions.isEmpty, "\(collisions.count) collisions, the first: \(collisions.first ?? "")")
    }

    /// Paths may hold spaces, tabs and newlines: no choice of paths may make two different input
    /// sets print the same canonical text.
    @Test func canonicalTextIsUnambiguousWhateverThePathsHold() {
        let d1 = XXH128.hash("1")
        let d2 = XXH128.hash("2")
        let pairs: [([String: Digest128], [String: Digest128])] = [
            // A path that spells a second input line.
            (["a": d1, "b": d2], ["a \(d1.hex)\nin 1:b": d2]),
            (["a": d1, "b": d2], ["a": d1, "b \(d2.hex)\nin 1:c": d2]),
            // A path that spells a digest.
            (["a \(d1.hex)": d2], ["a": d1]),
            // Blanks inside names.
            (["a b": d1], ["a\tb": d1]),
            (["a b": d1], ["a\nb": d1]),
            (["a b": d1, "c": d2], ["a": d1, "b c": d2]),
            (["x\n": d1], ["x": d1]),
        ]
        for (a, b) in pairs {
            #expect(definition(a).canonicalText != definition(b).canonicalText, "\(a) and \(b)")
            #expect(definition(a).key != definition(b).key, "\(a) and \(b)")
        }
    }
}

@Suite struct StalenessTests {
    let old = StepDefinition(action: .shell("echo 0 > out"), environment: ["E": "1"], outputs: ["out"],
                             inputs: ["in": XXH128.hash("1")], variables: ["seed": "0"])

    @Test func neverRun() {
        #expect(Staleness.reasons(current: old, previous: nil) == [.neverRun])
    }

    @Test func unchangedHasNoReason() {
        #expect(Staleness.reasons(current: old, previous: old).isEmpty)
    }

    @Test func variableChangeExplainsTheCommandChange() {
        var new = old
        new.action = .shell("echo 1 > out")
        new.variables = ["seed": "1"]
        #expect(Staleness.reasons(current: new, previous: old) == [.variableChanged(name: "seed", old: "0", new: "1")])
    }

    @Test func commandInputEnvOutputsAndOpVersion() {
        var new = old
        new.action = .shell("echo 0 >> out")
        new.environment = ["E": "2"]
        new.inputs = ["in": XXH128.hash("2"), "extra": XXH128.hash("x")]
        new.outputs = ["out", "log"]
        #expect(Staleness.reasons(current: new, previous: old) == [
            .commandChanged(old: "echo 0 > out", new: "echo 0 >> out"),
            .environmentChanged(name: "E", old: "1", new: "2"),
            .outputsChanged(old: ["out"], new: ["log", "out"]),
            .inputChanged(path: "extra", old: nil, new: XXH128.hash("x")),
            .inputChanged(path: "in", old: XXH128.hash("1"), new: XXH128.hash("2")),
        ])
        let a = StepDefinition(action: .op(name: "kmeans", version: 1, arguments: []), environment: [:], outputs: [], inputs: [:], variables: [:])
        var b = a
        b.action = .op(name: "kmeans", version: 2, arguments: [])
        #expect(Staleness.reasons(current: b, previous: a) == [.opVersionChanged(op: "kmeans", old: 1, new: 2)])
    }

    @Test func aChangedToolchainIsItsOwnReason() {
        var a = old
        a.toolchains = ["python": XXH128.hash("numpy==1.26")]
        var b = a
        b.toolchains = ["python": XXH128.hash("numpy==2.0")]
        #expect(a.key != b.key && a.key != old.key)
        #expect(Staleness.reasons(current: b, previous: a) == [
            .toolchainChanged(name: "python", old: XXH128.hash("numpy==1.26").hex, new: XXH128.hash("numpy==2.0").hex),
        ])
        #expect(Staleness.reasons(current: a, previous: old) == [.toolchainChanged(name: "python", old: "none", new: XXH128.hash("numpy==1.26").hex)])
        // A step without toolchains keeps the key it had before toolchains existed.
        #expect(!old.canonicalText.contains("toolchain"))
        #expect(StaleReason.toolchainChanged(name: "python", old: "scikit-learn==1.4.0", new: "scikit-learn==1.6.0").description
            == "toolchain python changed: scikit-learn==1.4.0 → scikit-learn==1.6.0")
    }

    @Test func descriptionsReadWell() {
        #expect(StaleReason.inputChanged(path: "a", old: XXH128.hash("1"), new: XXH128.hash("2")).description == "input changed: a")
        #expect(StaleReason.variableChanged(name: "k", old: "8", new: "16").description == "variable k changed 8 → 16")
        #expect(StaleReason.upstreamStale(step: "pool").description == "upstream pool must run")
    }
}

@Suite struct ResourcePoolTests {
    @Test func stepsRunOnlyWhileTheyFit() {
        var pool = ResourcePool(jobs: 4, cpus: 4, memory: 8 << 30, gpus: 2)
        var big = Resources()
        big.cpus = 3
        big.gpus = 1
        let g1 = pool.acquire(big)
        #expect(g1?.gpus == [0])
        #expect(pool.acquire(big) == nil) // 3 more cpus do not fit
        var small = Resources()
        small.gpus = 1
        #expect(pool.acquire(small)?.gpus == [1])
        pool.release(g1!)
        #expect(pool.freeGPUs == [0])
    }

    @Test func aStepLargerThanTheMachineIsClampedAndRunsAlone() {
        var pool = ResourcePool(jobs: 8, cpus: 2, memory: 1 << 30, gpus: 0)
        var huge = Resources()
        huge.cpus = 64
        huge.memory = 1 << 40
        #expect(pool.exceedsMachine(huge))
        let g = pool.acquire(huge)
        #expect(g?.cpus == 2)
        #expect(pool.acquire(Resources()) == nil)
    }

    @Test func jobSlotsLimitToo() {
        var pool = ResourcePool(jobs: 1, cpus: 16, memory: 0, gpus: 0)
        #expect(pool.acquire(Resources()) != nil)
        #expect(pool.acquire(Resources()) == nil)
    }
}

@Suite struct UnitsAndPathsTests {
    @Test func sizes() {
        #expect(Units.bytes("512") == 512)
        #expect(Units.bytes("4G") == 4 << 30)
        #expect(Units.bytes("1.5k") == 1536)
        #expect(Units.bytes("2GiB") == 2 << 30)
        #expect(Units.bytes("lots") == nil)
    }

    @Test func durations() {
        #expect(Units.seconds("90") == 90)
        #expect(Units.seconds("1h30m") == 5400)
        #expect(Units.seconds("2d") == 172_800)
        #expect(Units.seconds("01:00:05") == 3605)
        #expect(Units.seconds("5x") == nil)
    }

    @Test func normalization() {
        #expect(WorkspacePath.normalize("a/./b//c/") == "a/b/c")
        #expect(WorkspacePath.normalize("a/../b") == "b")
        #expect(WorkspacePath.normalize("../x") == nil)
        #expect(WorkspacePath.normalize("/etc/passwd") == nil)
    }

    @Test func globs() {
        #expect(WorkspacePath.matches("src/a.txt", pattern: "src/*.txt"))
        #expect(!WorkspacePath.matches("src/sub/a.txt", pattern: "src/*.txt"))
        #expect(WorkspacePath.matches("src/sub/a.txt", pattern: "src/**/*.txt"))
        #expect(WorkspacePath.matches("src/a.txt", pattern: "src/**/*.txt"))
        #expect(WorkspacePath.matches("data/shard-000003.tar", pattern: "data/shard-00000[0-4].tar"))
        #expect(!WorkspacePath.matches("src/.hidden.txt", pattern: "src/*.txt"))
    }
}
