import Foundation
import FlowCore
import FlowTestSupport
import Testing

/// The plan's rules, table-driven: each case is a small workflow, a machine, and what a fake
/// executor makes of each step (its duration on a fake clock, whether it is fresh, fails or must
/// wait for its checkpoint directory); the expected trace is what starts, ends and settles when.
@Suite struct PlanTests {
    /// A workflow from lines `NAME [<- DEP,DEP] [: SETTINGS]`, e.g. `d <- b,c : cpus 2`.
    static func workflow(_ spec: String) throws -> Workflow {
        var dag = ""
        for line in spec.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let head = parts[0].components(separatedBy: "<-").map { $0.trimmingCharacters(in: .whitespaces) }
            dag += "step \(head[0])\n  out \(head[0]).txt\n  run touch {out}\n"
            if head.count > 1 { dag += "  after " + head[1].split(separator: ",").joined(separator: " ") + "\n" }
            if parts.count > 1 {
                for setting in parts[1].split(separator: ";") { dag += "  \(setting.trimmingCharacters(in: .whitespaces))\n" }
            }
        }
        return try WorkflowLoader(workspace: InMemoryWorkspace(["w.dag": dag]), ops: FakeOps(), environment: [:])
            .load(file: "w.dag", overrides: [:])
    }

    /// A fake executor on a fake clock: runs the plan to its end and says what happened.
    struct Simulation {
        var plan: Plan
        /// What each step does and the machine: a row of the table (its trace is not read here).
        let setting: Case
        /// A larger workflow to grow to once the plan is idle (a deferred fan-out expanding).
        var grown: Workflow?
        var growTargets: [String] = []

        var clock = 0.0
        var running: [(end: Double, id: StepID)] = []
        var attempts: [StepID: Int] = [:]
        var trace: [String] = []
        /// The most steps that ran at once.
        var peak = 0

        init(_ workflow: Workflow, _ setting: Case) {
            self.setting = setting
            let ids = setting.targets.map { t in workflow.step(named: t)!.id }
            let machine = ResourcePool(jobs: setting.jobs, cpus: setting.cpus, memory: 1 << 40, gpus: setting.gpus)
            plan = Plan(workflow: workflow, targets: ids, pools: Plan.pools(machine: machine))
        }

        func name(_ id: StepID) -> String { plan.workflow[id].name }

        mutating func log(_ s: String) { trace.append("\(Int(clock)) \(s)") }

        mutating func settle(_ id: StepID, _ outcome: StepOutcome) {
            for s in plan.settle(id, outcome) { log("skip \(name(s.id)) (\(name(s.cause)))") }
        }

        mutating func run() -> [String] {
            while true {
                while let id = plan.nextReady() {
                    if setting.fresh.contains(name(id)) {
                        log("cached \(name(id))")
                        settle(id, .cached)
                    } else {
                        plan.queue(id)
                    }
                }
                let now = clock, locks = setting.lockedUntil, wf = plan.workflow
                for (id, grant) in plan.admit({ id in (locks[wf[id].name] ?? 0) > now ? .wait : .start }) {
                    attempts[id, default: 0] += 1
                    let gpus = grant.gpus.isEmpty ? "" : " gpus \(grant.gpus.map(String.init).joined(separator: ","))"
                    log("start \(name(id))" + gpus)
                    running.append((clock + (setting.durations[name(id)] ?? 1), id))
                }
                peak = max(peak, running.count)
                if plan.isIdle {
                    if let next = grown {
                        grown = nil
                        plan.grow(to: next, targets: growTargets.map { next.step(named: $0)!.id })
                        log("grow to \(next.steps.count)")
                        continue
                    }
                    break
                }
                // The fake executor: the next step to end, or the next lock to free.
                let nextLock = setting.lockedUntil.values.filter { $0 > clock }.min()
                guard let i = running.indices.min(by: { running[$0].end < running[$1].end }) else {
                    guard let nextLock else { log("stuck"); break }
                    clock = nextLock
                    continue
                }
                if let nextLock, nextLock < running[i].end {
                    clock = nextLock
                    continue
                }
                let (end, id) = running.remove(at: i)
                clock = end
                let n = name(id)
                if attempts[id, default: 0] <= setting.failures[n, default: 0] {
                    plan.finished(id)
                    if attempts[id, default: 0] <= setting.retries[n, default: 0] {
                        log("retry \(n)")
                        plan.queue(id, first: true)
                        continue
                    }
                    log("fail \(n)")
                    settle(id, .failed)
                    if !setting.keepGoing { plan.stop() }
                } else {
                    log("ran \(n)")
                    settle(id, .ran)
                }
            }
            for id in plan.unsettled { log("unsettled \(name(id))") }
            return trace
        }
    }

    struct Case: CustomStringConvertible, Sendable {
        var description: String
        var spec: String
        var jobs = 2
        var cpus = 2
        var gpus = 0
        var targets: [String] = []
        var durations: [String: Double] = [:]
        var fresh: Set<String> = []
        /// How many times each step fails before it succeeds (`Int.max`: always).
        var failures: [String: Int] = [:]
        var retries: [String: Int] = [:]
        /// Steps whose checkpoint directory is in use until this time.
        var lockedUntil: [String: Double] = [:]
        var keepGoing = false
        var trace: [String] = []
    }

    static let cases: [Case] = [
        Case(description: "a chain runs one after another", spec: "a\nb <- a\nc <- b",
             trace: ["0 start a", "1 ran a", "1 start b", "2 ran b", "2 start c", "3 ran c"]),
        Case(description: "a diamond runs its middle at once", spec: "a\nb <- a\nc <- a\nd <- b,c",
             durations: ["b": 2],
             trace: ["0 start a", "1 ran a", "1 start b", "1 start c", "2 ran c", "3 ran b", "3 start d", "4 ran d"]),
        Case(description: "one job slot: definition order", spec: "a\nb\nc", jobs: 1,
             trace: ["0 start a", "1 ran a", "1 start b", "2 ran b", "2 start c", "3 ran c"]),
        Case(description: "a step too big for what is free waits; smaller ones behind it start",
             spec: "a : cpus 1\nbig : cpus 2\nc : cpus 1", jobs: 4, durations: ["a": 2],
             trace: ["0 start a", "0 start c", "1 ran c", "2 ran a", "2 start big", "3 ran big"]),
        Case(description: "a step asking for more than the machine has runs alone, clamped",
             spec: "a : cpus 64\nb", jobs: 4,
             trace: ["0 start a", "1 ran a", "1 start b", "2 ran b"]),
        Case(description: "a cached step readies its dependents without running", spec: "a\nb <- a\nc <- b",
             fresh: ["a", "b"],
             trace: ["0 cached a", "0 cached b", "0 start c", "1 ran c"]),
        Case(description: "a failure stops new starts; what runs ends; the rest never starts",
             spec: "a\nb\nc <- a\nd", durations: ["b": 3], failures: ["a": .max],
             trace: ["0 start a", "0 start b", "1 fail a", "1 skip c (a)", "3 ran b", "3 unsettled d"]),
        Case(description: "keep-going: independent work goes on; downstream of a failure is skipped, transitively",
             spec: "a\nb <- a\nc <- b\nd", failures: ["a": .max], keepGoing: true,
             trace: ["0 start a", "0 start d", "1 fail a", "1 skip b (a)", "1 skip c (b)", "1 ran d"]),
        Case(description: "a retry keeps its place at the front of the queue", spec: "a\nb\nc", jobs: 1,
             failures: ["a": 1], retries: ["a": 1],
             trace: ["0 start a", "1 retry a", "1 start a", "2 ran a", "2 start b", "3 ran b", "3 start c", "4 ran c"]),
        Case(description: "GPU indices: lowest free first, given back at the end", spec: "a : gpus 1\nb : gpus 2\nc : gpus 1",
             jobs: 4, cpus: 4, gpus: 3, durations: ["a": 2, "b": 1, "c": 1],
             trace: ["0 start a gpus 0", "0 start b gpus 1,2", "1 ran b", "1 start c gpus 1", "2 ran a", "2 ran c"]),
        Case(description: "cluster steps take the cluster's slots, not this machine's", spec: "a : cpus 2\nb : executor slurm; cpus 32\nc : executor slurm; cpus 32",
             jobs: 1,
             trace: ["0 start a", "0 start b", "0 start c", "1 ran a", "1 ran b", "1 ran c"]),
        Case(description: "targets select what they need and nothing else", spec: "a\nb <- a\nc\nd <- c", targets: ["b"],
             trace: ["0 start a", "1 ran a", "1 start b", "2 ran b"]),
        Case(description: "a step waiting for its checkpoint directory keeps its place; others go on",
             spec: "a : checkpoint\nb\nc", jobs: 2, lockedUntil: ["a": 1.5],
             trace: ["0 start b", "0 start c", "1 ran b", "1 ran c", "1 start a", "2 ran a"]),
    ]

    @Test(arguments: cases) func schedule(_ c: Case) throws {
        var sim = Simulation(try Self.workflow(c.spec), c)
        #expect(sim.run() == c.trace)
        #expect(!sim.plan.isRunning)
        #expect(sim.plan.pools[.local]!.isIdle)
    }

    @Test func neverMoreThanTheJobSlotsAtOnce() throws {
        let spec = (0..<20).map { "s\($0)" + ($0 >= 5 ? " <- s\($0 % 5)" : "") }.joined(separator: "\n")
        for jobs in 1...4 {
            var sim = Simulation(try Self.workflow(spec), Case(description: "jobs \(jobs)", spec: spec, jobs: jobs, cpus: 8))
            _ = sim.run()
            #expect(sim.peak == jobs)
            #expect(sim.plan.count(.ran) == 20)
        }
    }

    @Test func aPlanThatGrowsKeepsWhatItKnowsByName() throws {
        // A deferred fan-out expanding: the second workflow has the first's steps (with other
        // ids: the new instances come before the last step) and three more.
        let small = try Self.workflow("split\nreport <- split")
        let large = try Self.workflow("split\nstats0 <- split\nstats1 <- split\nstats2 <- split\nreport <- split,stats0,stats1,stats2")
        var sim = Simulation(small, Case(description: "grow", spec: "", targets: ["split"]))
        sim.grown = large
        sim.growTargets = ["stats0", "stats1", "stats2", "report"]
        #expect(sim.run() == ["0 start split", "1 ran split", "1 grow to 5",
                              "1 start stats0", "1 start stats1", "2 ran stats0", "2 start stats2", "2 ran stats1",
                              "3 ran stats2", "3 start report", "4 ran report"])
        #expect(sim.plan.outcomes.count == 5)
    }

    @Test func growingWhileStoppedStartsNothing() throws {
        var plan = Plan(workflow: try Self.workflow("a"), targets: [], pools: Plan.pools(machine: ResourcePool(jobs: 1, cpus: 1, memory: 0, gpus: 0)))
        plan.stop()
        #expect(plan.nextReady() == nil)
        plan.grow(to: try Self.workflow("a\nb"), targets: [])
        #expect(plan.nextReady() == nil)
        #expect(plan.unsettled.count == 2)
    }

    @Test func aDroppedAdmissionLeavesTheQueue() throws {
        var plan = Plan(workflow: try Self.workflow("a\nb"), targets: [], pools: Plan.pools(machine: ResourcePool(jobs: 2, cpus: 2, memory: 0, gpus: 0)))
        while let id = plan.nextReady() { plan.queue(id) }
        let a = plan.workflow.step(named: "a")!.id
        let started = plan.admit { $0 == a ? .drop : .start }
        #expect(started.map { plan.workflow[$0.id].name } == ["b"])
        #expect(plan.queued.isEmpty)
    }

    @Test func aFullPoolLooksAtNothingBehindAndKeepsTheOrder() throws {
        var plan = Plan(workflow: try Self.workflow("a\nb\nc\nd"), targets: [],
                        pools: Plan.pools(machine: ResourcePool(jobs: 1, cpus: 4, memory: 0, gpus: 0)))
        while let id = plan.nextReady() { plan.queue(id) }
        let workflow = plan.workflow
        var asked: [String] = []
        let first = plan.admit { asked.append(workflow[$0].name); return .start }
        #expect(first.map { plan.workflow[$0.id].name } == ["a"])
        // The one slot is taken: the builder is not asked about anything behind.
        asked = []
        #expect(plan.admit { asked.append(workflow[$0].name); return .start }.isEmpty)
        #expect(asked.isEmpty)
        #expect(plan.queued.map { plan.workflow[$0].name } == ["b", "c", "d"])
        // A step settled while it waits behind a full pool is not queued any more.
        let c = plan.workflow.step(named: "c")!.id
        _ = plan.settle(c, .skipped)
        #expect(plan.queued.map { plan.workflow[$0].name } == ["b", "d"])
        plan.finished(first[0].id)
        _ = plan.settle(first[0].id, .ran)
        let next = plan.admit { _ in .start }
        #expect(next.map { workflow[$0.id].name } == ["b"])
        #expect(plan.queued.map { plan.workflow[$0].name } == ["d"])
    }

    /// A pool that never fills (the cluster's) must not make a full local pool scan its whole
    /// queue on every admission: that made a 10,000-step build quadratic in a layer's width.
    @Test func aFullPoolIsNotScannedPastWhenAnotherPoolHasRoom() throws {
        let n = 400
        let spec = (0..<n).map { "s\($0)" }.joined(separator: "\n")
        var plan = Plan(workflow: try Self.workflow(spec), targets: [],
                        pools: Plan.pools(machine: ResourcePool(jobs: 1, cpus: 4, memory: 0, gpus: 0)))
        #expect(plan.pools[.slurm]?.isFull == false)
        while let id = plan.nextReady() { plan.queue(id) }
        var order: [String] = []
        while true {
            let started = plan.admit { _ in .start }
            guard let (id, _) = started.first else { break }
            #expect(started.count == 1)
            order.append(plan.workflow[id].name)
            // Asked again while the one slot is taken: nothing starts.
            #expect(plan.admit { _ in .start }.isEmpty)
            _ = plan.settle(id, .ran)
        }
        #expect(order == (0..<n).map { "s\($0)" })
        // Each admission looks at the queue's head and stops there.
        #expect(plan.examinedForAdmission <= 3 * n)
    }
}

/// When a step that exceeded its `timeout` gets SIGTERM and then SIGKILL, on a fake clock.
@Suite struct TimeoutWatchTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test func stopThenKillAfterTheGracePeriod() {
        var w = TimeoutWatch(grace: 5)
        w.watch(1, limit: 10, started: t0)
        w.watch(2, limit: 0, started: t0)
        let table: [(Double, [TimeoutWatch.Action])] = [
            (9, []), (10, []), (10.5, [.stop(token: 1, limit: 10)]), (12, []), (15.4, []),
            (15.6, [.kill(token: 1)]), (16, [.kill(token: 1)]),
        ]
        for (t, expected) in table {
            #expect(w.due(now: t0.addingTimeInterval(t)) == expected, "at \(t) s")
        }
        #expect(w.timedOut(1))
        #expect(!w.timedOut(2))
        w.forget(1)
        #expect(w.due(now: t0.addingTimeInterval(100)).isEmpty)
    }

    @Test func eachStepHasItsOwnDeadline() {
        var w = TimeoutWatch(grace: 1)
        w.watch(3, limit: 5, started: t0)
        w.watch(4, limit: 2, started: t0.addingTimeInterval(1))
        #expect(w.due(now: t0.addingTimeInterval(3.5)) == [.stop(token: 4, limit: 2)])
        #expect(w.due(now: t0.addingTimeInterval(5.5)) == [.stop(token: 3, limit: 5), .kill(token: 4)])
    }
}
