import Foundation
import FlowCore
import Glibc
import XXHash

/// What a step's `toolchain` is, as a digest for its key: the executable's content (links
/// followed: a virtualenv's `python` is a link) and, when the declaration has arguments, the
/// output of running them (`python -m pip freeze`, `Rscript --version`).
///
/// Running a freeze command on every `flow status` would cost a process per toolchain (pip takes
/// most of a second), so its output is kept in `.flow/toolchains/`, one file per declaration,
/// under the stat signature of what it depends on: the link as written (lstat), the executable
/// it leads to, and the `lib/*/site-packages` and `lib/*/dist-packages` directories next to the
/// `bin/` of either (a virtualenv's, or the interpreter's own prefix), whose modification time
/// changes when a package is installed, upgraded or removed. While that signature holds, no
/// process is started. Those paths are also observed, so a changed environment invalidates the
/// fresh snapshot.
///
/// Each identity text is kept under its digest (`.flow/toolchains/<digest>`), so that
/// `flow explain` can show which lines of a freeze output changed since the last run.
///
/// File layout of `.flow/toolchains/probe-<hash of the declaration>`:
///
///     flow-toolchain v1
///     <signature digest>
///     <identity text...>
///
/// A file that does not start with these two lines is ignored (and rewritten).
final class ToolchainProbe {
    let workspace: Workspace
    let directory: String
    /// One answer per declaration per process: a fan-out of 1,000 steps probes once.
    var memo: [String: (Digest128, String)] = [:]
    /// Problems found (an executable not found, a command that failed), each reported once.
    var warn: (String) -> Void

    static let header = "flow-toolchain v1"

    init(workspace: Workspace, warn: @escaping (String) -> Void) {
        self.workspace = workspace
        self.directory = workspace.root + "/" + WorkspacePath.stateDirectory + "/toolchains"
        self.warn = warn
    }

    /// The digest of `toolchain` and the text it is the digest of.
    func identity(_ toolchain: Toolchain) -> (Digest128, String) {
        let declaration = toolchain.commandLine
        if let known = memo[declaration] { return known }
        let text = identityText(toolchain)
        let result = (XXH128.hash(text), text)
        memo[declaration] = result
        keepText(result.0, text)
        return result
    }

    func identityText(_ toolchain: Toolchain) -> String {
        guard let given = locate(toolchain.executable) else {
            warn("toolchain \(toolchain.name): '\(toolchain.executable)' not found\(toolchain.executable.contains("/") ? "" : " on PATH")")
            return "executable missing: \(toolchain.executable)\n"
        }
        let resolved = ContentHash.realPath(given) ?? given
        workspace.observe(given, FileStat.of(given))
        guard let (exeDigest, _) = try? workspace.fileDigest(resolved) else {
            warn("toolchain \(toolchain.name): cannot read '\(resolved)'")
            return "executable unreadable: \(toolchain.executable)\n"
        }
        var text = "executable \(exeDigest.hex)\n"
        guard !toolchain.arguments.isEmpty else { return text }
        text += "$ " + toolchain.arguments.map(ShellQuote.quote).joined(separator: " ") + "\n"

        // The signature the command's output is kept under.
        var watched = [given, resolved]
        for exe in Set([given, resolved]) { watched += ToolchainProbe.packageDirectories(of: exe) }
        var signature = toolchain.commandLine + "\n"
        var racy = false
        for (i, path) in watched.enumerated() {
            let st = FileStat.of(path, followLinks: i != 0)
            if i != 0 { workspace.observe(path, st) }
            if let st, Workspace.isRacy(st) { racy = true }
            signature += path + " " + FreshSnapshot.signatureText(st) + "\n"
        }
        let signatureDigest = XXH128.hash(signature).hex
        let probeFile = directory + "/probe-" + XXH128.hash(toolchain.commandLine).hex
        if let kept = try? String(contentsOfFile: probeFile, encoding: .utf8) {
            let lines = kept.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
            if lines.count == 3, lines[0] == ToolchainProbe.header, lines[1] == signatureDigest { return String(lines[2]) }
        }
        switch ToolchainProbe.output(of: given, toolchain.arguments, in: workspace.root) {
        case .success(let output):
            text += output.hasSuffix("\n") || output.isEmpty ? output : output + "\n"
            // As in the stat cache: what changed within a tick of now could change again unseen.
            if !racy {
                try? FileIO.makeDirectories(directory)
                try? AtomicFile.write(Array((ToolchainProbe.header + "\n" + signatureDigest + "\n" + text).utf8), to: probeFile)
            }
        case .failure(let message):
            warn("toolchain \(toolchain.name): '\(toolchain.commandLine)' \(message)")
            text += "failed: \(message)\n"
        }
        return text
    }

    /// Keeps an identity text under its digest, for `explain` to compare with later ones.
    func keepText(_ digest: Digest128, _ text: String) {
        let path = directory + "/" + digest.hex
        guard FileStat.of(path) == nil else { return }
        try? FileIO.makeDirectories(directory)
        try? AtomicFile.write(Array(text.utf8), to: path)
    }

    /// The identity text kept under `hex`, if any.
    func keptText(_ hex: String) -> String? {
        guard Digest128(hex: hex) != nil else { return nil }
        return try? String(contentsOfFile: directory + "/" + hex, encoding: .utf8)
    }

    /// The executable as an absolute path: workspace-relative and absolute paths as they are, a
    /// bare name from `PATH` (flow's own, as a step would find it).
    func locate(_ executable: String) -> String? {
        if executable.contains("/") {
            let path = workspace.absolute(executable)
            return FileStat.of(path) != nil ? path : nil
        }
        let search = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in search.split(separator: ":") where !dir.isEmpty {
            let candidate = String(dir) + "/" + executable
            if access(candidate, X_OK) == 0, FileStat.of(candidate)?.isRegular == true { return candidate }
        }
        return nil
    }

    /// `PREFIX/lib*/*/site-packages` and `dist-packages`, for an executable in `PREFIX/bin/`.
    static func packageDirectories(of executable: String) -> [String] {
        let bin = (executable as NSString).deletingLastPathComponent
        guard (bin as NSString).lastPathComponent == "bin" else { return [] }
        let prefix = (bin as NSString).deletingLastPathComponent
        var result: [String] = []
        for lib in ["lib", "lib64"] {
            let libDir = prefix + "/" + lib
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: libDir) else { continue }
            for name in names.sorted() {
                for packages in ["site-packages", "dist-packages"] {
                    let dir = libDir + "/" + name + "/" + packages
                    if FileStat.of(dir)?.isDirectory == true { result.append(dir) }
                }
            }
        }
        return result
    }

    struct Failure: Error { var message: String }

    /// Runs `executable arguments...` in `directory` and returns its standard output; standard
    /// error is discarded, a non-zero exit is a failure.
    static func output(of executable: String, _ arguments: [String], in directory: String) -> Result<String, Failure> {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do {
            try p.run()
        } catch {
            return .failure(Failure(message: "could not be started: \(error.localizedDescription)"))
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationReason == .exit, p.terminationStatus == 0 else {
            return .failure(Failure(message: p.terminationReason == .exit ? "exited \(p.terminationStatus)" : "was killed by signal \(p.terminationStatus)"))
        }
        return .success(String(decoding: data, as: UTF8.self))
    }
}

extension ToolchainProbe {
    /// `reason` with the digests replaced by what differs between the two identity texts, when
    /// both are kept and the difference is short: "scikit-learn==1.4.0 → scikit-learn==1.6.0".
    func refine(_ reason: StaleReason) -> StaleReason {
        guard case .toolchainChanged(let name, let old, let new) = reason,
              let oldText = keptText(old), let newText = keptText(new) else { return reason }
        let oldLines = oldText.split(separator: "\n").map(String.init), newLines = newText.split(separator: "\n").map(String.init)
        let oldSet = Set(oldLines), newSet = Set(newLines)
        let removed = oldLines.filter { !newSet.contains($0) }, added = newLines.filter { !oldSet.contains($0) }
        let shown = removed + added
        guard shown.count <= 6, shown.allSatisfy({ $0.count <= 120 }) else {
            return .toolchainChanged(name: name, old: String(old.prefix(8)), new: String(new.prefix(8)))
        }
        func show(_ lines: [String]) -> String {
            lines.isEmpty ? "(none)" : lines.map { $0.hasPrefix("executable ") ? "executable " + $0.dropFirst(11).prefix(8) : $0 }
                .joined(separator: ", ")
        }
        return .toolchainChanged(name: name, old: show(removed), new: show(added))
    }
}
