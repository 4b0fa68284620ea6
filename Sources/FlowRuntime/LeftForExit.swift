/// What a command is done with just before the process ends, left for the exit to free: the
/// kernel unmaps it at once, while releasing it value by value (a million steps, their
/// evaluations and status rows) took a few percent of `flow status` at that size, and 12 ms of
/// the 0.5 s a 10,000-step rebuild takes. Compilers do the same with their syntax trees.
public enum LeftForExit {
    private final class Kept {
        let values: [Any]
        init(_ values: [Any]) { self.values = values }
    }

    /// Keeps `values` alive until the process ends. Call it only at a command's end: the memory
    /// is never given back to the process.
    public static func leave(_ values: Any...) {
        _ = Unmanaged.passRetained(Kept(values))
    }
}
