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
