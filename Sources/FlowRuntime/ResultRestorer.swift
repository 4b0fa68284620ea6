import Foundation
import FlowCore
import XXHash

/// Puts a cached result's outputs back into the workspace (`flow run`, `flow pull`): only those
/// missing or different, each object verified as it is copied out of the local store, under the
/// shared cache lock so that gc cannot remove an object half-way.
public struct ResultRestorer {
    let context: RunContext
    let link: LinkMode

    public init(context: RunContext, link: LinkMode) {
        self.context = context
        self.link = link
    }

    public func restore(_ manifest: Manifest) throws {
        try context.cacheLock.shared { try restoreLocked(manifest) }
    }

    func restoreLocked(_ manifest: Manifest) throws {
        let ws = context.workspace
        for out in manifest.outputs {
            if out.isDirectory {
                if let (d, _) = try? ws.directoryDigest(out.path), d.hex == out.digest { continue }
                let abs = ws.absolute(out.path)
                try FileIO.removeTree(abs)
                try FileIO.makeDirectories(abs)
                for e in out.entries ?? [] {
                    try restoreFile(out.path + "/" + e.path, digest: e.digest, executable: e.executable)
                }
            } else {
                if let (d, _) = try? ws.fileDigest(out.path), d.hex == out.digest { continue }
                try restoreFile(out.path, digest: out.digest, executable: out.executable)
            }
        }
        ws.saveStatCache()
    }

    func restoreFile(_ path: String, digest hex: String, executable: Bool) throws {
        guard let digest = Digest128(hex: hex) else { throw Runner.StepCheckError(message: "manifest names an invalid digest '\(hex)'") }
        let abs = context.workspace.absolute(path)
        try context.store.restore(digest, to: abs, executable: executable, link: link, scratch: context.scratchDirectory)
        if let st = FileStat.of(abs) { context.workspace.remember(path, st, digest) }
    }
}
