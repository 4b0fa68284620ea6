import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime

/// Where the remote cache is and how to use it: `--remote URL`, else `$FLOW_REMOTE`, else
/// `remote` in flow.config; read-only unless `--remote-write` (or `remote-mode read-write`).
struct RemoteOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The remote cache, http(s)://HOST[:PORT]/PATH (default: $FLOW_REMOTE, else `remote` in flow.config).",
                               valueName: "URL"))
    var remote: String?

    @Flag(help: "Use no remote cache, whatever $FLOW_REMOTE or flow.config say.")
    var noRemote = false

    @Flag(help: "Upload what runs here to the remote cache (for CI); without it the remote is only read.")
    var remoteWrite = false

    @Flag(help: "Only read the remote cache, even where flow.config says read-write.")
    var remoteReadOnly = false

    @Flag(help: "Allow credentials over plain http:// (a trusted network only).")
    var remoteAllowHttp = false

    /// The remote of this workspace, or nil when none is configured (an error when `required`).
    /// `mode` overrides the configured one (`flow push` writes, `flow pull` reads).
    func connect(_ context: RunContext, root: String, mode forced: RemoteMode? = nil, required: Bool = false) throws -> RemoteResults? {
        let env = ProcessInfo.processInfo.environment
        let config: ProjectConfig
        do {
            config = try ProjectConfig.load(root: root)
        } catch let e as DAGError {
            Diagnostics.print(e.description)
            throw ExitCode(e.exitCode)
        }
        let url = noRemote ? nil : remote ?? env["FLOW_REMOTE"].flatMap { $0.isEmpty ? nil : $0 } ?? config.values["remote"]
        guard let url else {
            if required {
                throw ValidationError("no remote cache: give --remote URL, set FLOW_REMOTE, or add 'remote URL' to \(ProjectConfig.fileName)")
            }
            return nil
        }
        var mode = RemoteMode.readOnly
        if let configured = config.values["remote-mode"] {
            guard let m = RemoteMode(rawValue: configured) else {
                throw ValidationError("\(ProjectConfig.fileName): remote-mode is read-only or read-write, not '\(configured)'")
            }
            mode = m
        }
        if remoteWrite { mode = .readWrite }
        if remoteReadOnly { mode = .readOnly }
        if let forced { mode = forced }
        let allowHTTP = remoteAllowHttp || ["yes", "true", "1"].contains(config.values["remote-allow-http"] ?? "")
        let cache = try RemoteCache(url: url, allowInsecureHTTP: allowHTTP)
        let results = RemoteResults(objects: cache, actions: cache, mode: mode, local: context.store, localActions: context.actions)
        results.pendingFile = RemoteOptions.pendingFile(root: root)
        return results
    }

    /// Where a workspace keeps the keys of results not yet uploaded (see `RemoteResults.upload`).
    static func pendingFile(root: String) -> String { root + "/.flow/remote-pending" }

    /// A run must look at the workflow even when nothing changed: it has results to upload.
    func hasUploadsToFinish(root: String) -> Bool {
        guard !noRemote, !remoteReadOnly, RemoteResults.hasPending(RemoteOptions.pendingFile(root: root)) else { return false }
        let env = ProcessInfo.processInfo.environment
        let config = (try? ProjectConfig.load(root: root)) ?? ProjectConfig()
        let configured = remote ?? env["FLOW_REMOTE"].flatMap { $0.isEmpty ? nil : $0 } ?? config.values["remote"]
        return configured != nil && (remoteWrite || config.values["remote-mode"] == RemoteMode.readWrite.rawValue)
    }
}
