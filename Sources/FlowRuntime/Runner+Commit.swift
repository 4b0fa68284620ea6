import Foundation
import FlowCore
import Glibc
import XXHash

extension Runner {
    /// A step's process ended: commit its result, retry it, or report its failure.
    func finish(_ completion: Completion) throws {
        guard var a = active.removeValue(forKey: completion.token) else { return }
        defer {
            journal.writeHeldRunning()
            let held = heldStartReports ?? []
            heldStartReports = nil
            for report in held { report() }
        }
        a.completion = completion
        let timedOut = timeouts.timedOut(completion.token)
        release(a, token: completion.token)
        let termination = completion.termination
        let peakMemory = completion.peakMemory
        // A committed step's usage is written with its record, in the commit's transaction.
        var committed = false
        defer {
            if !committed {
                try? context.state.setUsage(run: runID, step: workflow[a.id].name, peakMemory: peakMemory,
                                            outputSize: evaluator.manifests[a.id]?.totalSize)
            }
        }
        let step = workflow[a.id]
        var failure: String?
        // Whether the command itself failed (its outputs are then no result), as opposed to its
        // result failing to be stored (its outputs may be fine).
        var commandFailed = true
        // Whether its result could not be stored for want of space: its outputs are no result
        // either, and they hold space the next run needs.
        var noRoomToStore = false
        if timedOut {
            failure = "timed out after \(step.timeout) s"
        } else if !termination.succeeded || completion.failure != nil {
            // (An executor's failure despite exit 0: the local executor could not write the log.)
            failure = completion.failure ?? termination.description
            if completion.stoppedByExecutor, resumeFromCheckpoint(a, failure ?? "") { return }
        } else {
            // The slot is free: steps already waiting for one start before this result is hashed,
            // stored and journalled, so that committing does not sit on the path to the next.
            // Their starts are reported after this step's end, as if they had started after it.
            heldStartReports = []
            journal.holdRunning()
            startQueued()
            do {
                try commit(a)
                committed = true
                return
            } catch let e as StepCheckError {
                failure = e.message
            } catch let e as SystemError where e.isDiskFull {
                // Nothing half-written is visible in the cache; the step runs again once there is space.
                failure = "\(e)"
                plan.stop()
                commandFailed = false
                noRoomToStore = true
            } catch {
                failure = "could not store its results: \(error)"
                commandFailed = false
            }
        }
        let exit = exitCode(termination)
        journal(a.id, .failed, key: a.evaluation.key, pid: a.handle, started: a.started, exit: exit, attempt: a.attempt,
                log: a.logPath, note: failure ?? "", kind: a.kind)
        if a.attempt <= step.retries && !interrupted {
            reporter.warning("\(step.name) failed (\(failure ?? "")); retrying (attempt \(a.attempt + 1) of \(step.retries + 1))")
            plan.queue(a.id, first: true)
            return
        }
        // A step that fails on a full disk rarely says so plainly: said here, before its outputs
        // free their space.
        if commandFailed, let full = fullDisk(step) { failure = (failure ?? "failed") + "; the disk holding \(full) is full" }
        // What a failed step wrote is not a result: remove it, so that nothing reads it as one and
        // a step that filled the disk does not keep it full (its log says what happened).
        var note = ""
        if commandFailed && removePartialOutputs(step) {
            note = "; its partial outputs were removed"
        } else if noRoomToStore && removePartialOutputs(step) {
            note = "; its outputs were removed to free their space (it has no result, and runs again next time)"
        }
        // A step that printed nothing has no log file to point to (see StepLog).
        let logFile = FileStat.of(a.logPath) != nil ? a.logPath : nil
        reporter.stepFailed(step, message: (failure ?? "failed") + note, logTail: StepLog.tail(a.logPath, lines: 20), logPath: logFile)
        fail(a.id)
    }

    /// The first output of `step` (or else the workspace) on a file system that is full, if any.
    func fullDisk(_ step: Step) -> String? {
        if let out = step.outputs.first(where: { DiskSpace.isFull(context.workspace.absolute($0.path)) }) { return out.path }
        return DiskSpace.isFull(context.workspace.root) ? "the workspace" : nil
    }

    struct StepCheckError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Checks a finished step's outputs and inputs, stores its outputs and log as objects (small
    /// ones inside the manifest), then its manifest (only after every object), then its record. A crash between any two of these
    /// leaves at worst unreferenced objects, never a manifest that names a missing one.
    func commit(_ a: Active) throws {
        try context.workspace.observing(.step(a.id)) { try commitNow(a) }
    }

    func commitNow(_ a: Active) throws {
        let step = workflow[a.id]
        guard let key = a.evaluation.key, let definition = a.evaluation.definition else {
            throw StepCheckError(message: "internal error: no action key (please report)")
        }
        for out in step.outputs {
            let kind = context.workspace.kind(of: out.path)
            if kind == .missing || (out.isDirectory && kind != .directory) {
                throw StepCheckError(message: "exited 0 without producing its declared output '\(out.path)\(out.isDirectory ? "/" : "")'")
            }
            let abs = context.workspace.absolute(out.path)
            if FileStat.of(abs, followLinks: false)?.isSymlink == true {
                throw StepCheckError(message: "its output '\(out.path)' is a symbolic link (to '\(ContentHash.realPath(abs) ?? "?")'): " +
                                              "flow stores files, not links; write the output itself")
            }
        }
        for (path, before) in a.evaluation.inputStats {
            guard let now = FileStat.of(context.workspace.absolute(path)), now.sameContentSignature(before) else {
                throw StepCheckError(message: "changed its input '\(path)' while running; its result is not cached")
            }
        }
        let duration = Date().timeIntervalSince(a.started)
        // Objects and the manifest that names them under the shared cache lock: gc cannot remove
        // an object between its ingest and the manifest.
        let manifest: Manifest = try context.cacheLock.shared {
            var outputs: [Manifest.Output] = []
            var inlineBudget = Manifest.inlineBudget
            for out in step.outputs {
                outputs.append(try ingest(out, inlineBudget: &inlineBudget))
            }
            try checkAgainstRecord(a, outputs)
            let log = try? ingestLog(a.logPath, inlineBudget: inlineBudget)
            let manifest = Manifest(key: key.hex, step: step.name, outputs: outputs, exitStatus: 0, duration: duration,
                                    finishedAt: Date().timeIntervalSince1970, log: log?.digest.hex, logInline: log?.inline,
                                    host: a.completion?.host ?? ProcessInfo.processInfo.hostName)
            if options.syncEveryCommit { try context.store.sync() }
            try context.actions.store(manifest, key: key)
            // The record too, so that a gc of this workspace that reads the records sees it; with
            // what the step produced, its journal entry and the signatures of what was hashed, in
            // one transaction: one write to the state per result instead of one per statement.
            // The running entries of the steps started in this one's slot go in the same
            // transaction, and so does its usage (after its entry, which replaces the row).
            try context.state.batch {
                try context.state.saveRecord(step: step.name, StateStore.StepRecord(
                    key: key, definition: definition, duration: duration, outputSize: manifest.totalSize, finishedAt: Date(), runID: runID))
                try recordProduced(a.id, manifest)
                journal.writeHeldRunning()
                journal(a.id, .succeeded, key: key, pid: a.handle, started: a.started, exit: 0, attempt: a.attempt, log: a.logPath,
                        kind: a.kind)
                try? context.state.setUsage(run: runID, step: step.name, peakMemory: a.completion?.peakMemory, outputSize: manifest.totalSize)
                context.workspace.saveStatCache()
            }
            return manifest
        }
        try context.store.syncIfDue()
        remote?.upload(manifest, key: key)
        evaluator.settled(a.id, manifest)
        if step.checkpoint {
            context.removeCheckpoint(key)
            a.checkpointLock?.removeFile()
        }
        settle(a.id, .ran, note: Runner.tenths(duration))
    }

    /// Seconds with one decimal, "12.3s": what `String(format: "%.1fs")` prints but at a tie,
    /// without the cost of Foundation's formatter, which was 4% of flow's time per step.
    static func tenths(_ seconds: Double) -> String {
        let t = seconds.isFinite ? Int((max(seconds, 0) * 10).rounded()) : 0
        return "\(t / 10).\(t % 10)s"
    }

    /// Removes the declared outputs of a step that failed; true when there was anything to remove.
    func removePartialOutputs(_ step: Step) -> Bool {
        var any = false
        for out in step.outputs {
            let abs = context.workspace.absolute(out.path)
            guard FileStat.of(abs, followLinks: false) != nil else { continue }
            any = true
            try? FileIO.removeTree(abs)
        }
        return any
    }

    /// Stores one output (a file, or every file of a directory) and describes it for the manifest.
    /// Files small enough for what is left of `inlineBudget` are kept inline (and use it up).
    func ingest(_ out: PathRef, inlineBudget: inout Int64) throws -> Manifest.Output {
        let ws = context.workspace
        if out.isDirectory || ws.kind(of: out.path) == .directory {
            var entries: [Manifest.Entry] = []
            var tree: [ContentHash.TreeEntry] = []
            let files: [String]
            do {
                files = try ContentHash.listFiles(ws.absolute(out.path), links: .within)
            } catch let e as ContentHash.LinkError {
                throw StepCheckError(message: "\(e)")
            }
            for rel in files {
                let path = out.path + "/" + rel
                let (digest, st, inline) = try ingestFile(path, inlineBudget: &inlineBudget)
                entries.append(Manifest.Entry(path: rel, digest: digest.hex, size: st.size, executable: st.isExecutable, inline: inline))
                tree.append(ContentHash.TreeEntry(path: rel, digest: digest, size: st.size, executable: st.isExecutable))
            }
            return Manifest.Output(path: out.path, kind: "directory", digest: ContentHash.tree(tree).hex,
                                   size: entries.reduce(0) { $0 + $1.size }, executable: false, entries: entries)
        }
        let (digest, st, inline) = try ingestFile(out.path, inlineBudget: &inlineBudget)
        return Manifest.Output(path: out.path, kind: "file", digest: digest.hex, size: st.size, executable: st.isExecutable, entries: nil,
                               inline: inline)
    }

    /// Copies one workspace file into the store, or reads it for the manifest when it is small
    /// enough (its base64 is returned), hashing it once, and records its stat signature.
    func ingestFile(_ path: String, inlineBudget: inout Int64) throws -> (Digest128, FileStat, inline: String?) {
        let abs = context.workspace.absolute(path)
        guard let before = FileStat.of(abs) else { throw StepCheckError(message: "output '\(path)' disappeared") }
        let digest: Digest128
        var inline: String?
        if let small = try Self.readIfSmall(abs, before.size, inlineBudget: &inlineBudget) {
            digest = XXH128.hash(small)
            inline = Manifest.inlineText(small)
        } else {
            let known = context.workspace.statCache[path].flatMap { $0.0.sameSignature(before) ? $0.1 : nil }
            digest = try context.store.ingest(abs, knownDigest: known).digest
        }
        if let after = FileStat.of(abs), after.sameSignature(before) { context.workspace.remember(path, before, digest) }
        return (digest, before, inline)
    }

    /// The bytes of the file at `abs` (of `size` bytes when stated) when it is to be kept inline:
    /// no larger than the threshold or what is left of `inlineBudget`, which it uses up. Nil for a
    /// file that is to be an object, or that changed size since it was stated.
    static func readIfSmall(_ abs: String, _ size: Int64, inlineBudget: inout Int64) throws -> [UInt8]? {
        guard size <= Manifest.inlineThreshold, size <= inlineBudget else { return nil }
        let bytes = try FileIO.readAll(abs, sizeHint: Int(size))
        guard Int64(bytes.count) == size else { return nil }
        inlineBudget -= size
        return bytes
    }

    /// Keeps the step's log: inline when it is small, else as an object. No file is an empty log
    /// (see StepLog); a large log is ingested from the disk, which holds no more than a chunk of
    /// it in memory.
    func ingestLog(_ path: String, inlineBudget: Int64) throws -> (digest: Digest128, inline: String?) {
        var budget = inlineBudget
        guard let st = FileStat.of(path) else { return (XXH128.hash([UInt8]()), Manifest.inlineText([])) }
        if let small = try Self.readIfSmall(path, st.size, inlineBudget: &budget) {
            return (XXH128.hash(small), Manifest.inlineText(small))
        }
        return (try context.store.ingest(path).digest, nil)
    }

    /// Puts a cached result's outputs back into the workspace, only those missing or different.
    func restore(_ id: StepID, _ manifest: Manifest) throws {
        try context.workspace.observing(.step(id)) { try ResultRestorer(context: context, link: options.link).restore(manifest) }
    }
}
