import Foundation
import FlowCore
import XXHash

/// Puts a cached result's outputs back into the workspace (`flow run`, `flow pull`): only those
/// missing or different, each object verified as it is copied out of the local store (and each
/// file kept inside the manifest checked against its digest), under the shared cache lock so
/// that gc cannot remove an object half-way. Inline bytes that do not match throw
/// `CorruptManifestError`: the manifest is removed and the step runs again.
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
                    try restoreFile(out.path + "/" + e.path, digest: e.digest, size: e.size, executable: e.executable, inline: e.inline,
                                    of: manifest)
                }
            } else {
                if let (d, _) = try? ws.fileDigest(out.path), d.hex == out.digest { continue }
                try restoreFile(out.path, digest: out.digest, size: out.size, executable: out.executable, inline: out.inline, of: manifest)
            }
        }
        ws.saveStatCache()
    }

    func restoreFile(_ path: String, digest hex: String, size: Int64, executable: Bool, inline: String?, of manifest: Manifest) throws {
        guard let digest = Digest128(hex: hex) else { throw Runner.StepCheckError(message: "manifest names an invalid digest '\(hex)'") }
        let abs = context.workspace.absolute(path)
        do {
            try context.store.restore(digest, inline: inline, size: size, to: abs, executable: executable, link: link,
                                      scratch: context.scratchDirectory)
        } catch let e as InlineBytesError {
            throw CorruptManifestError(key: Digest128(hex: manifest.key) ?? digest, reason: "the inline bytes of '\(path)' \(e.reason)")
        }
        if let st = FileStat.of(abs) { context.workspace.remember(path, st, digest) }
    }
}
