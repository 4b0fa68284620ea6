// --dump-inputs and --replay-inputs: a step's crops and masks as .npy files.
import Foundation
import FlowFormats
import FlowModels

/// One step's crops and masks in a directory: globals.npy float32 [2B, 3, G, G], locals.npy
/// float32 [L·B, 3, S, S] (crop-major, normalised as the model sees them) and masks.npy uint8
/// [2B, patches] (1 = the patch is replaced by the mask token in the student).
enum StepInputFiles {
    static func write(_ inputs: StepInputs, config c: PretrainConfig, to dir: String) throws {
        let b = c.batch, g = c.vit.imageSize, s = c.localSize
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try NPY.write(NPYArray(float32: inputs.crops.globals, shape: [2 * b, 3, g, g]), to: dir + "/globals.npy")
            try NPY.write(NPYArray(float32: inputs.crops.locals, shape: [c.localCrops * b, 3, s, s]), to: dir + "/locals.npy")
            try NPY.write(NPYArray(uint8: inputs.masks.masks.map { $0 ? 1 : 0 }, shape: [inputs.masks.images, inputs.masks.patches]),
                          to: dir + "/masks.npy")
        } catch {
            throw OpError("--dump-inputs \(dir): cannot write the step's inputs: \(error)")
        }
    }

    /// The inputs in `dir`, or nil when there is no such directory.
    static func read(_ dir: String, config c: PretrainConfig) throws -> StepInputs? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        do {
            let globals = try NPY.read(path: dir + "/globals.npy"), locals = try NPY.read(path: dir + "/locals.npy")
            let masks = try NPY.read(path: dir + "/masks.npy")
            guard masks.shape.count == 2, masks.dtype == .uint8 || masks.dtype == .bool else {
                throw OpError("--replay-inputs \(dir)/masks.npy: expected uint8 or bool [2B, patches], got \(masks.dtype) \(masks.shape)")
            }
            let flags = masks.bytes.map { $0 != 0 }
            let inputs = StepInputs(crops: CropBatch(batch: c.batch, globals: try globals.float32Values(), locals: try locals.float32Values()),
                                    masks: MaskBatch(images: masks.shape[0], patches: masks.shape[1], masks: flags,
                                                     upperbound: flags.filter { $0 }.count))
            return inputs
        } catch let e as OpError {
            throw e
        } catch {
            throw OpError("--replay-inputs \(dir): \(error)")
        }
    }
}
