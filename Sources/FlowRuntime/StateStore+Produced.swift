import FlowCore
import SQLite
import XXHash

extension StateStore {
    /// An output that flow put in the workspace: which step instance made it, with what content.
    public struct ProducedOutput: Equatable, Sendable {
        public var step: String
        /// A file's content digest, or a directory's Merkle digest.
        public var digest: Digest128
    }

    /// Every output path flow has put in the workspace and not removed since; with `workflow`,
    /// only those of that workflow (its main .dag file): a workspace may run several, and the
    /// outputs of one are not orphans of another.
    public func producedOutputs(workflow: String? = nil) throws -> [String: ProducedOutput] {
        var result: [String: ProducedOutput] = [:]
        let rows = try workflow.map { try db.query("SELECT path, step, digest FROM produced WHERE workflow = ?", [.text($0)]) }
            ?? db.query("SELECT path, step, digest FROM produced")
        for r in rows {
            guard let path = r[0].string, let step = r[1].string, let d = r[2].string.flatMap(Digest128.init(hex:)) else { continue }
            result[path] = ProducedOutput(step: step, digest: d)
        }
        return result
    }

    /// Records that `step` put these outputs in the workspace (replacing what was recorded for the paths).
    public func recordProduced(step: String, workflow: String, _ outputs: [(path: String, digest: Digest128)]) throws {
        for o in outputs {
            try db.query("INSERT OR REPLACE INTO produced(path, step, digest, workflow) VALUES (?, ?, ?, ?)",
                         [.text(o.path), .text(step), .text(o.digest.hex), .text(workflow)])
        }
    }

    public func forgetProduced(_ path: String) throws {
        try db.query("DELETE FROM produced WHERE path = ?", [.text(path)])
    }
}
