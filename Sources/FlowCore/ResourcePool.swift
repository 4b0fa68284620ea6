/// The machine's capacity for running steps at once: job slots (`-j`), cores, memory and GPUs.
///
/// A step starts only when its declared `cpus`, `mem` and `gpus` fit in what is free. A step that
/// asks for more than the whole machine has is clamped to the machine (it then runs alone)
/// rather than waiting forever.
public struct ResourcePool: Sendable {
    public private(set) var freeJobs: Int
    public private(set) var freeCPUs: Int
    public private(set) var freeMemory: Int64
    /// GPU indices not handed out; assigned lowest first.
    public private(set) var freeGPUs: [Int]
    public let capacity: (jobs: Int, cpus: Int, memory: Int64, gpus: Int)

    public init(jobs: Int, cpus: Int, memory: Int64, gpus: Int) {
        freeJobs = max(1, jobs)
        freeCPUs = max(1, cpus)
        freeMemory = max(0, memory)
        freeGPUs = Array(0..<max(0, gpus))
        capacity = (max(1, jobs), max(1, cpus), max(0, memory), max(0, gpus))
    }

    /// What a step actually takes from the pool.
    public struct Grant: Equatable, Sendable {
        public var cpus: Int
        public var memory: Int64
        /// Indices for CUDA_VISIBLE_DEVICES.
        public var gpus: [Int]
    }

    func clamped(_ r: Resources) -> (cpus: Int, memory: Int64, gpus: Int) {
        (min(max(1, r.cpus), capacity.cpus), min(r.memory, capacity.memory), min(r.gpus, capacity.gpus))
    }

    /// True when the step asks for more than the machine has (it will be clamped).
    public func exceedsMachine(_ r: Resources) -> Bool {
        r.cpus > capacity.cpus || r.memory > capacity.memory || r.gpus > capacity.gpus
    }

    public func fits(_ r: Resources) -> Bool {
        let c = clamped(r)
        return freeJobs >= 1 && freeCPUs >= c.cpus && freeMemory >= c.memory && freeGPUs.count >= c.gpus
    }

    /// Takes the resources; nil when they do not fit now.
    public mutating func acquire(_ r: Resources) -> Grant? {
        guard fits(r) else { return nil }
        let c = clamped(r)
        freeJobs -= 1
        freeCPUs -= c.cpus
        freeMemory -= c.memory
        let gpus = Array(freeGPUs.prefix(c.gpus))
        freeGPUs.removeFirst(c.gpus)
        return Grant(cpus: c.cpus, memory: c.memory, gpus: gpus)
    }

    public mutating func release(_ g: Grant) {
        freeJobs += 1
        freeCPUs += g.cpus
        freeMemory += g.memory
        freeGPUs = (freeGPUs + g.gpus).sorted()
    }

    /// True when no step can fit until something is released: every step takes a job slot and
    /// at least one cpu.
    public var isFull: Bool { freeJobs == 0 || freeCPUs == 0 }

    /// True when nothing is handed out.
    public var isIdle: Bool { freeJobs == capacity.jobs }
}
