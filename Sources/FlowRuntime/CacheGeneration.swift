import Foundation
import Glibc

/// A marker file, `cache/generation`, replaced whenever anything is removed from the cache
/// (a manifest or an object: `flow gc`, `flow verify`, a corrupt object found on restore).
/// Adding to the cache never replaces it. A workspace's fresh snapshot records its stat
/// signature: if it changed, results the snapshot counted on may be gone, and the snapshot is
/// not trusted. Several workspaces sharing one cache all see the change.
public enum CacheGeneration {
    static func path(_ cacheRoot: String) -> String { cacheRoot + "/generation" }

    /// Marks that something was removed from the cache at `cacheRoot`.
    public static func bump(_ cacheRoot: String) {
        try? AtomicFile.write(Array("\(Date().timeIntervalSince1970)\n".utf8), to: path(cacheRoot), temporaryDirectory: cacheRoot + "/tmp")
    }

    /// The marker's stat signature as text ("none" before anything was ever removed).
    public static func signature(_ cacheRoot: String) -> String {
        guard let st = FileStat.of(path(cacheRoot)) else { return "none" }
        return "\(st.device):\(st.inode):\(st.mtimeNs):\(st.ctimeNs)"
    }
}
