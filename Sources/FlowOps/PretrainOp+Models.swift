// Loading the backbones a training run starts from (--init, --teacher) with located errors.
import Foundation
import FlowFormats
import FlowModels

enum TrainingModels {
    /// The backbone in `path` (given by `option`), checked tensor by tensor against `expected`
    /// when given: a missing tensor or one of another shape names the tensor and both shapes.
    static func backbone(_ path: String, option: String, expected: ViTConfig?) throws -> ViT {
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: path) } catch {
            throw OpError("\(option) \(path): cannot read the model: \(error)")
        }
        if let expected {
            var shapes: [String: [Int]] = [:]
            for (name, t) in file.tensors {
                var n = Substring(name)
                for prefix in ["module.", "backbone."] where n.hasPrefix(prefix) { n = n.dropFirst(prefix.count) }
                shapes[String(n)] = t.shape
            }
            for (name, want) in ViT(zeros: expected).namedParameters() where name != "mask_token" {
                guard let got = shapes[name] else {
                    throw OpError("\(option) \(path): no tensor '\(name)' (shape \(want.shape)), which this run's architecture \(expected) needs: the file is of another architecture; pass --arch/--dim/--depth/--heads/--patch/--image-size that match it")
                }
                guard got == want.shape else {
                    throw OpError("\(option) \(path): tensor '\(name)' has shape \(got), this run's architecture \(expected) needs \(want.shape): the file is of another architecture; pass --arch/--dim/--depth/--heads/--patch/--image-size that match it")
                }
            }
        }
        do { return try ViT(safetensors: file, source: path, expecting: expected) } catch let e as ModelError {
            throw OpError("\(option) \(e.message)")
        }
    }
}
