// Training state on disk: one safetensors file holds a whole `Trainer`.
//
// Design: a checkpoint (and the final `--state-out`) is a safetensors file. Tensors:
//   student.backbone.<name>, student.dino_head.<name>, teacher.backbone.<name>,
//   teacher.dino_head.<name>, average.backbone.<name> (distillation only),
//   student.ibot_head.<name>, teacher.ibot_head.<name> (separate iBOT head only) — float32
//   optimizer.exp_avg.<prefix><name>, optimizer.exp_avg_sq.<prefix><name>  — AdamW moments
//   loss.dino_center, loss.ibot_center                                     — teacher centres [K]
//   data.order                                                             — int64, the epoch's order
// Metadata: format "flow-train-state", version "1", every setting of the run as
// "setting.<name>" (compared on resume), step, order_epoch, mask_rng, order_rng (UInt64 state
// of each generator, decimal), adamw_step, and in checkpoints (not in the final state, which
// must not depend on timing) "log": the JSON lines of every step so far.
// The safetensors writer sorts names and metadata keys, so the same state gives the same bytes.
import Foundation
import FlowFormats

/// Encodes a `Trainer` as a safetensors file (layout above), restores one, and writes it
/// durably. A restore into a trainer of other settings throws `CheckpointMismatch`.
public enum TrainingCheckpoint {
    public static let format = "flow-train-state"
    public static let version = "1"

    /// The trainer as a safetensors file; `includeLog` adds the log (checkpoints only).
    public static func encode(_ t: Trainer, includeLog: Bool) -> SafetensorsFile {
        var tensors: [String: Tensor] = [:]
        tensors.merge(t.student.safetensorsTensors(prefix: "student.backbone.")) { $1 }
        tensors.merge(t.studentHead.safetensorsTensors(prefix: "student.dino_head.")) { $1 }
        tensors.merge(t.teacher.safetensorsTensors(prefix: "teacher.backbone.")) { $1 }
        tensors.merge(t.teacherHead.safetensorsTensors(prefix: "teacher.dino_head.")) { $1 }
        if let a = t.average { tensors.merge(a.safetensorsTensors(prefix: "average.backbone.")) { $1 } }
        if let h = t.studentIBOTHead { tensors.merge(h.safetensorsTensors(prefix: "student.ibot_head.")) { $1 } }
        if let h = t.teacherIBOTHead { tensors.merge(h.safetensorsTensors(prefix: "teacher.ibot_head.")) { $1 } }
        let adam = t.optimizer.stateTensors()
        for (name, tensor) in adam.tensors { tensors["optimizer." + name] = tensor }
        tensors["loss.dino_center"] = Tensor(float32: t.loss.dinoTargets.center, shape: [t.loss.dinoTargets.center.count])
        tensors["loss.ibot_center"] = Tensor(float32: t.loss.ibotTargets.center, shape: [t.loss.ibotTargets.center.count])
        tensors["data.order"] = Tensor(int64: t.order.map(Int64.init), shape: [t.order.count])
        var metadata: [String: String] = ["format": format, "version": version, "step": String(t.step),
                                          "order_epoch": String(t.orderEpoch),
                                          "mask_rng": String(t.maskRNG.state), "order_rng": String(t.orderRNG.state)]
        for (k, v) in adam.metadata { metadata[k] = v }
        for (name, value) in t.config.settings { metadata["setting." + name] = value }
        if includeLog { metadata["log"] = t.log.joined(separator: "\n") }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// Restores `trainer` (built from the same config) from `file`; `source` names it in errors.
    /// - Throws: `ModelError` when the file is not a training state, was made with other
    ///   settings (each differing setting is named), or misses a tensor.
    public static func restore(_ trainer: inout Trainer, from file: SafetensorsFile, source: String) throws {
        let md = file.metadata
        guard md["format"] == format else {
            throw ModelError("\(source): not a flow training state (format '\(md["format"] ?? "none")')")
        }
        guard md["version"] == version else {
            throw ModelError("\(source): training state version \(md["version"] ?? "?"), this flow reads \(version)")
        }
        var stored: [String: String] = [:]
        for (k, v) in md where k.hasPrefix("setting.") { stored[String(k.dropFirst(8))] = v }
        let diff = trainer.config.differences(from: stored)
        guard diff.isEmpty else {
            throw CheckpointMismatch(message: "\(source): checkpoint of another configuration: \(diff.joined(separator: "; ")). Remove the checkpoint or run with its settings")
        }
        func int(_ key: String) throws -> Int {
            guard let s = md[key], let v = Int(s) else { throw ModelError("\(source): metadata '\(key)' is missing or not an integer") }
            return v
        }
        func u64(_ key: String) throws -> UInt64 {
            guard let s = md[key], let v = UInt64(s) else { throw ModelError("\(source): metadata '\(key)' is missing or not an integer") }
            return v
        }
        var t = trainer
        try t.student.load(from: file.tensors, prefix: "student.backbone.", source: source)
        try t.studentHead.load(from: file.tensors, prefix: "student.dino_head.", source: source)
        try t.teacher.load(from: file.tensors, prefix: "teacher.backbone.", source: source)
        try t.teacherHead.load(from: file.tensors, prefix: "teacher.dino_head.", source: source)
        if t.average != nil { try t.average!.load(from: file.tensors, prefix: "average.backbone.", source: source) }
        if t.studentIBOTHead != nil { try t.studentIBOTHead!.load(from: file.tensors, prefix: "student.ibot_head.", source: source) }
        if t.teacherIBOTHead != nil { try t.teacherIBOTHead!.load(from: file.tensors, prefix: "teacher.ibot_head.", source: source) }
        var adam: [String: Tensor] = [:]
        for (name, tensor) in file.tensors where name.hasPrefix("optimizer.") { adam[String(name.dropFirst(10))] = tensor }
        try t.optimizer.loadState(tensors: adam, metadata: md, source: source)
        for (name, keyPath) in [("loss.dino_center", \DINOv2Loss.dinoTargets.center), ("loss.ibot_center", \DINOv2Loss.ibotTargets.center)] {
            guard let c = try file.tensors[name]?.float32Values(), c.count == t.loss[keyPath: keyPath].count else {
                throw ModelError("\(source): tensor '\(name)' is missing or not [\(t.loss[keyPath: keyPath].count)]")
            }
            t.loss[keyPath: keyPath] = c
        }
        guard let order = try file.tensors["data.order"]?.int64Values() else { throw ModelError("\(source): no tensor 'data.order'") }
        t.order = order.map { Int($0) }
        t.orderEpoch = try int("order_epoch")
        t.step = try int("step")
        guard t.step >= 0, t.step <= t.config.iterations,
              t.order.isEmpty || Set(t.order) == Set(0..<t.config.images) && t.order.count == t.config.images else {
            throw ModelError("\(source): step \(t.step) or data order does not fit this run (\(t.config.iterations) steps, \(t.config.images) images)")
        }
        t.maskRNG = AugmentRNG(state: try u64("mask_rng"))
        t.orderRNG = AugmentRNG(state: try u64("order_rng"))
        t.log = (md["log"] ?? "").split(separator: "\n").map(String.init)
        trainer = t
    }

    /// Loads a training state file written by `write`.
    public static func read(path: String, into trainer: inout Trainer) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: path) } catch {
            throw ModelError("\(path): cannot read the checkpoint: \(error)")
        }
        try restore(&trainer, from: file, source: path)
    }

    /// Writes `file` to `path` durably: a temporary file beside it, fsync, rename, fsync of the directory.
    public static func writeDurably(_ file: SafetensorsFile, to path: String) throws {
        let bytes = try file.encode()
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelError("\(tmp): cannot create: \(String(cString: strerror(errno)))") }
        var written = 0
        let ok: Bool = bytes.withUnsafeBytes { raw in
            while written < raw.count {
                // Never empty here, so its base address is never nil.
                let rest = UnsafeRawBufferPointer(rebasing: raw[written...])
                let n = write(fd, rest.baseAddress, rest.count)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let error = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(tmp)
            throw ModelError("\(path): cannot write the checkpoint: \(error)")
        }
        guard rename(tmp, path) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            throw ModelError("\(path): cannot rename the checkpoint into place: \(e)")
        }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

/// A checkpoint written by a run with other settings: resuming from it would mix two runs.
public struct CheckpointMismatch: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
