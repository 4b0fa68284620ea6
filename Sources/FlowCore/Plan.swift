/// The schedule of one run, and nothing else: which steps are wanted, which wait for their
/// dependencies, which are ready to be evaluated, which are queued for resources, which run,
/// and the resource pools they take from. It does no I/O and reads no clock, so every rule
/// here is tested with a fake executor (`Tests/FlowCoreTests/PlanTests.swift`).
///
/// A step moves through it as follows:
///
///     blocked --(last dependency settles)--> ready --nextReady()--> (evaluated by the builder)
///       evaluated fresh or restored: settle(.cached / .restored)
///       evaluated stale: queue() --admit()--> running --finished()--> settle(.ran / .failed)
///                                                     \--queue(first: true)-- a retry
///
/// A failed or skipped step skips everything downstream of it. The plan grows while it runs
/// (`grow`): a fan-out over files another step writes is expanded once that step is done, and
/// the plan goes on over the larger workflow, keeping what it knows by step name.
public struct Plan: Sendable {
    public private(set) var workflow: Workflow
    /// The wanted steps: the targets and everything they need.
    public private(set) var selected: StepSet
    public private(set) var outcomes: [StepID: StepOutcome] = [:]
    /// No step is handed out any more (`stop`): a failure without keep-going, or an interruption.
    public private(set) var stopped = false
    /// One pool per kind of executor: local steps share this machine's, cluster steps the cluster's.
    public private(set) var pools: [ExecutorKind: ResourcePool]
    public let defaultExecutor: ExecutorKind

    /// For each selected step not settled, how many of its selected dependencies are not done.
    private var unmet: [StepID: Int] = [:]
    /// Steps whose dependencies are all done, in the order they became so; `readyHead` is the
    /// first not yet handed out (an index, so that taking one is O(1) at a million steps).
    private var ready: [StepID] = []
    private var readyHead = 0
    /// Stale steps waiting for resources, in the order they were queued.
    private var queue: [StepID] = []
    /// How many entries of `queue` are of each executor kind (settled ones included until a
    /// pass drops them), so that `admit` knows when no pool the queue needs has room.
    private var queuedPerKind: [ExecutorKind: Int] = [:]
    /// How many queue entries `admit` has looked at since the plan began: its cost, for tests.
    public private(set) var examinedForAdmission = 0
    /// What each running step holds.
    private var grants: [StepID: ResourcePool.Grant] = [:]
    /// Steps whose result is there for their dependents.
    private var done: Set<StepID> = []

    /// A plan for `targets` (all steps when empty) and what they need.
    public init(workflow: Workflow, targets: [StepID], pools: [ExecutorKind: ResourcePool], defaultExecutor: ExecutorKind = .local) {
        self.workflow = workflow
        self.pools = pools
        self.defaultExecutor = defaultExecutor
        selected = workflow.closure(of: targets)
        countUnmet()
    }

    /// The pool a run has for each executor kind: this machine's for local steps; the cluster's
    /// limits are the cluster's own, so its pool only counts.
    public static func pools(machine: ResourcePool) -> [ExecutorKind: ResourcePool] {
        var pools: [ExecutorKind: ResourcePool] = [:]
        for kind in ExecutorKind.allCases {
            pools[kind] = kind.usesMachineResources ? machine : ResourcePool(jobs: 1 << 20, cpus: 1 << 20, memory: 1 << 60, gpus: 1024)
        }
        return pools
    }

    private mutating func countUnmet() {
        unmet = [:]
        ready = []
        readyHead = 0
        for id in workflow.order where selected.contains(id) && outcomes[id] == nil {
            let n = workflow[id].dependencies.reduce(0) { $0 + (selected.contains($1) && !done.contains($1) ? 1 : 0) }
            unmet[id] = n
            if n == 0 { ready.append(id) }
        }
    }

    public func executor(of id: StepID) -> ExecutorKind { workflow[id].executor ?? defaultExecutor }

    // MARK: what the builder asks

    /// The next step whose dependencies are all done, to be evaluated; nil when there is none
    /// or the plan is stopped.
    public mutating func nextReady() -> StepID? {
        while !stopped && readyHead < ready.count {
            let id = ready[readyHead]
            readyHead += 1
            if readyHead == ready.count {
                ready.removeAll(keepingCapacity: true)
                readyHead = 0
            }
            if outcomes[id] == nil && grants[id] == nil { return id }
        }
        return nil
    }

    /// Queues a stale step for resources (at the front for a retry or a resumption, so that it
    /// keeps its place).
    public mutating func queue(_ id: StepID, first: Bool = false) {
        if first { queue.insert(id, at: 0) } else { queue.append(id) }
        queuedPerKind[executor(of: id), default: 0] += 1
    }

    /// True when every pool that a queued step takes from is full: nothing queued can start.
    /// (Only the pools the queue needs count: the cluster's never fills.)
    private var queuedPoolsAreFull: Bool {
        queuedPerKind.allSatisfy { kind, count in count == 0 || pools[kind]?.isFull ?? true }
    }

    /// What the builder says of a queued step that fits in its pool.
    public enum Admission: Sendable {
        /// Start it now: it takes its resources.
        case start
        /// Not yet (its checkpoint directory is in use): it keeps its place in the queue.
        case wait
        /// It is no longer to be started (the builder settled it meanwhile).
        case drop
    }

    /// Hands out queued steps, in queue order, while their pools have room: each that fits is
    /// offered to `decide`, and those started come back with what they were granted. A step that
    /// does not fit stays queued and those behind it may still start (smaller steps fill the gaps).
    public mutating func admit(_ decide: (StepID) -> Admission) -> [(id: StepID, grant: ResourcePool.Grant)] {
        guard !stopped else { return [] }
        var started: [(id: StepID, grant: ResourcePool.Grant)] = []
        var still: [StepID] = []
        let current = queue
        queue = []
        var full = queuedPoolsAreFull
        for (position, id) in current.enumerated() {
            // Once the pools the queue needs are full nothing behind can start: the rest waits
            // as it is (a settled step among it is dropped by a later pass). Scanning it all for
            // every finished step made a build of 10,000 steps quadratic in a layer's width.
            if full {
                still += current[position...]
                break
            }
            examinedForAdmission += 1
            let kind = executor(of: id)
            guard outcomes[id] == nil else {
                queuedPerKind[kind, default: 1] -= 1
                continue
            }
            guard pools[kind]?.fits(workflow[id].resources) == true else {
                still.append(id)
                continue
            }
            switch decide(id) {
            case .wait:
                still.append(id)
            case .drop:
                queuedPerKind[kind, default: 1] -= 1
                full = queuedPoolsAreFull
            case .start:
                queuedPerKind[kind, default: 1] -= 1
                let grant = pools[kind]!.acquire(workflow[id].resources)!
                grants[id] = grant
                started.append((id, grant))
                full = queuedPoolsAreFull
            }
        }
        // `decide` may have queued others (a retry): they come after those that were waiting.
        queue = still + queue
        return started
    }

    /// A running step ended (whatever its outcome): its resources go back to its pool.
    public mutating func finished(_ id: StepID) {
        guard let grant = grants.removeValue(forKey: id) else { return }
        pools[executor(of: id)]?.release(grant)
    }

    /// A step that was admitted and did not start after all (its executor refused it, or it
    /// was left running for a later run): as `finished`.
    public mutating func release(_ id: StepID) { finished(id) }

    /// Records how a step ended up. A step that lets its dependents run readies those whose
    /// last dependency it was; a failed or skipped one skips everything downstream, and those
    /// come back, each with the step that caused it, in the order they were skipped.
    @discardableResult
    public mutating func settle(_ id: StepID, _ outcome: StepOutcome) -> [(id: StepID, cause: StepID)] {
        outcomes[id] = outcome
        finished(id)
        var skipped: [(id: StepID, cause: StepID)] = []
        if outcome.letsDependentsRun {
            done.insert(id)
            for d in workflow[id].dependents where selected.contains(d) {
                guard let n = unmet[d] else { continue }
                unmet[d] = n - 1
                if n == 1 { ready.append(d) }
            }
        } else if outcome == .failed || outcome == .skipped {
            skipDownstream(of: id, into: &skipped)
        }
        return skipped
    }

    private mutating func skipDownstream(of id: StepID, into skipped: inout [(id: StepID, cause: StepID)]) {
        for d in workflow[id].dependents where selected.contains(d) && outcomes[d] == nil {
            outcomes[d] = .skipped
            unmet[d] = nil
            skipped.append((d, id))
            skipDownstream(of: d, into: &skipped)
        }
    }

    /// Hands out nothing more: what runs may end, nothing new starts.
    public mutating func stop() { stopped = true }

    // MARK: what the plan says

    public var isRunning: Bool { !grants.isEmpty }
    public var runningCount: Int { grants.count }
    public func isRunning(_ id: StepID) -> Bool { grants[id] != nil }
    public var queued: [StepID] { queue.filter { outcomes[$0] == nil } }
    public var hasReady: Bool { readyHead < ready.count }

    /// Nothing runs and nothing more can start: everything reachable has settled, or the plan
    /// is stopped. (A plan with deferred fan-outs may then `grow`.)
    public var isIdle: Bool { grants.isEmpty && (stopped || (queue.isEmpty && !hasReady)) }

    /// Selected steps that never settled (never ready, or stopped before they started), in order.
    public var unsettled: [StepID] { workflow.order.filter { selected.contains($0) && outcomes[$0] == nil } }

    public func count(_ outcome: StepOutcome) -> Int { outcomes.values.reduce(0) { $0 + ($1 == outcome ? 1 : 0) } }

    // MARK: growing

    /// Goes on over `next`, a larger version of the workflow (deferred fan-outs expanded):
    /// outcomes, running steps and queued steps carry over by step name, and `select` says which
    /// of `next`'s steps are now wanted (the builder's targets, which the expansion may have
    /// added to). Returns how old step ids map to new ones, for what the builder keeps by id.
    @discardableResult
    public mutating func grow(to next: Workflow, targets: [StepID]) -> StepIDMap {
        let mapping = StepIDMap(from: workflow, to: next)
        outcomes = mapping.carry(outcomes)
        grants = mapping.carry(grants)
        done = mapping.carry(done)
        queue = queue.compactMap { mapping[$0] }
        workflow = next
        selected = next.closure(of: targets)
        countUnmet()
        queuedPerKind = [:]
        for id in queue { queuedPerKind[executor(of: id), default: 0] += 1 }
        // Running and queued steps are not ready again.
        let queued = Set(queue)
        ready.removeAll { grants[$0] != nil || queued.contains($0) }
        return mapping
    }
}

/// How the step ids of one version of a workflow map to those of a larger one (by step name):
/// what is kept by id carries over with it.
public struct StepIDMap: Sendable {
    private var ids: [StepID: StepID] = [:]

    public init(from old: Workflow, to next: Workflow) {
        var byName: [String: StepID] = [:]
        for step in next.steps { byName[step.name] = step.id }
        for step in old.steps { if let n = byName[step.name] { ids[step.id] = n } }
    }

    /// The new id of `old`; nil when the step is not in the new version.
    public subscript(old: StepID) -> StepID? { ids[old] }

    /// `values` keyed by the new ids; those of steps not in the new version are dropped.
    public func carry<V>(_ values: [StepID: V]) -> [StepID: V] {
        var result: [StepID: V] = [:]
        for (id, v) in values { if let n = ids[id] { result[n] = v } }
        return result
    }

    public func carry(_ set: Set<StepID>) -> Set<StepID> { Set(set.compactMap { ids[$0] }) }
}
