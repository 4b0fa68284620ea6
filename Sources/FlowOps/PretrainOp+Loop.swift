// The loop `pretrain` and `distill` share: resume, steps, log, checkpoints, SIGTERM, outputs.
import Foundation
import FlowFormats
import FlowModels

/// Set by the SIGTERM handler; the loop finishes its step, checkpoints and exits 143.
// nonisolated(unsafe): a sig_atomic_t the handler only sets (0 → 1) and the loop only reads,
// once per step (C's signal-flag idiom); a late read delays the stop by one step at most.
nonisolated(unsafe) private var terminationRequested: sig_atomic_t = 0

struct TrainingLoop {
    /// "pretrain" or "distill", for messages.
    var name: String
    var options: TrainingOptions
    var data: TrainingData

    static let checkpointPrefix = "ckpt-"

    /// Runs `trainer` to the end (resuming from the newest valid checkpoint), then writes the
    /// model, the state and the log.
    func run(_ trainer: inout Trainer) throws {
        signal(SIGTERM) { _ in terminationRequested = 1 }
        let threads = StepEnvironment.threads(options.threads)
        let directory = StepEnvironment.checkpointDirectory
        if let directory { try resume(&trainer, from: directory) }
        try writeLog(trainer.log)
        guard let logHandle = FileHandle(forWritingAtPath: options.log) else {
            throw OpError("\(options.log): cannot open the log for writing")
        }
        logHandle.seekToEndOfFile()
        let c = trainer.config, total = c.iterations
        if trainer.step > 0 {
            FileHandle.standardError.write(Data("flow op \(name): resuming at step \(trainer.step) of \(total)\n".utf8))
        }
        let start = Date()
        let firstStep = trainer.step
        let dumpSteps = try Set(options.dumpInputs == nil ? [] : CurationIO.intList(options.dumpSteps, "dump-steps"))
        while !trainer.finished {
            let batch = trainer.nextBatchIndices().map { data.images[$0] }
            let t0 = Date()
            let record: StepRecord
            let number = trainer.step + 1
            trainer.keepsStepInputs = dumpSteps.contains(number)
            let given = try options.replayInputs.flatMap { try StepInputFiles.read("\($0)/step-\(number)", config: c) }
            do { record = try trainer.trainStep(images: batch, threads: threads, given: given) } catch let e as TrainingDiverged {
                throw OpError("\(e)" + (directory == nil ? "" : " (\(directory!))"))
            } catch let e as ModelError {
                throw OpError(e.message)
            }
            if let dir = options.dumpInputs, let inputs = trainer.lastStepInputs, dumpSteps.contains(number) {
                try StepInputFiles.write(inputs, config: c, to: "\(dir)/step-\(number)")
                trainer.lastStepInputs = nil
            }
            let rate = Double(c.batch) / max(Date().timeIntervalSince(t0), 1e-9)
            let line = Self.jsonLine(record, imagesPerSecond: rate)
            trainer.log.append(line)
            logHandle.write(Data((line + "\n").utf8))
            Progress.shared.report(String(format: "epoch %d/%d step %d/%d loss %.4f", record.epoch + 1, c.epochs,
                                          trainer.step, total, record.loss))
            let stop = terminationRequested != 0
            let due = trainer.step % c.stepsPerEpoch == 0
                || (options.checkpointEvery > 0 && trainer.step % options.checkpointEvery == 0)
            if let directory, stop || due { try saveCheckpoint(trainer, in: directory) }
            if stop {
                FileHandle.standardError.write(Data("flow op \(name): SIGTERM: stopped after step \(trainer.step) of \(total)\(directory == nil ? " (no checkpoint directory: declare the step with `checkpoint` to resume)" : ", checkpoint saved")\n".utf8))
                exit(143)
            }
        }
        try? logHandle.close()
        do {
            try trainer.model.save(to: options.modelOut, extraMetadata: ["trained_by": "flow op \(name)", "steps": String(total)])
        } catch { throw OpError("\(options.modelOut): cannot write the model: \(error)") }
        do {
            try TrainingCheckpoint.writeDurably(TrainingCheckpoint.encode(trainer, includeLog: false), to: options.stateOut)
        } catch { throw OpError("\(options.stateOut): cannot write the state: \(error)") }
        try writeLog(trainer.log)
        let seconds = Date().timeIntervalSince(start)
        let done = trainer.step - firstStep
        let last = trainer.log.last ?? ""
        print(String(format: "\(name): %d steps (%d in this run) of %d images, %.1f s, %.1f images/s (%d threads); last step %@; wrote \(options.modelOut), \(options.stateOut), \(options.log)",
                     total, done, c.batch, seconds, Double(done * c.batch) / max(seconds, 1e-9), threads, last))
    }

    /// Loads the newest checkpoint of `directory` that reads back; a corrupt one is skipped with
    /// a warning, one of another configuration stops the run.
    func resume(_ trainer: inout Trainer, from directory: String) throws {
        for path in Self.checkpoints(in: directory).reversed() {
            var t = trainer
            let file: SafetensorsFile
            do { file = try SafetensorsFile.read(path: path) } catch {
                FileHandle.standardError.write(Data("flow op \(name): warning: skipping unreadable checkpoint \(path): \(error)\n".utf8))
                continue
            }
            do { try TrainingCheckpoint.restore(&t, from: file, source: path) } catch let e as CheckpointMismatch {
                throw OpError(e.message)
            } catch let e as ModelError {
                FileHandle.standardError.write(Data("flow op \(name): warning: skipping invalid checkpoint \(path): \(e.message)\n".utf8))
                continue
            }
            trainer = t
            return
        }
    }

    /// The checkpoint files of `directory`, oldest first (by step, from the name).
    static func checkpoints(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix(checkpointPrefix) && $0.hasSuffix(".safetensors") }
            .sorted().map { directory + "/" + $0 }
    }

    /// Writes `ckpt-STEP.safetensors` durably and keeps the newest two.
    func saveCheckpoint(_ trainer: Trainer, in directory: String) throws {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + Self.checkpointPrefix + String(format: "%09d", trainer.step) + ".safetensors"
        do {
            try TrainingCheckpoint.writeDurably(TrainingCheckpoint.encode(trainer, includeLog: true), to: path)
        } catch { throw OpError("\(path): cannot write the checkpoint: \(error)") }
        for old in Self.checkpoints(in: directory).dropLast(2) { unlink(old) }
    }

    func writeLog(_ lines: [String]) throws {
        let text = lines.map { $0 + "\n" }.joined()
        do { try text.write(toFile: options.log, atomically: true, encoding: .utf8) } catch {
            throw OpError("\(options.log): cannot write the log: \(error.localizedDescription)")
        }
    }

    /// One log object; keys as in docs/pretraining.md. Steps and epochs count from 1.
    static func jsonLine(_ r: StepRecord, imagesPerSecond: Double) -> String {
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "null" }
        let v = r.values
        let fields: [(String, String)] = [
            ("step", String(r.step + 1)), ("epoch", String(r.epoch + 1)), ("loss", f(Double(r.loss))),
            ("dino", f(Double(r.dino))), ("ibot", f(Double(r.ibot))), ("koleo", f(Double(r.koleo))),
            ("lr", f(Double(v.learningRate))), ("wd", f(Double(v.weightDecay))), ("momentum", f(Double(v.teacherMomentum))),
            ("teacher_temp", f(Double(v.teacherTemperature))), ("grad_norm", f(r.backboneGradNorm)),
            ("head_grad_norm", f(r.headGradNorm)), ("images_per_s", String(format: "%.1f", imagesPerSecond)),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}
