import FlowFormats

/// Checkpoints as safetensors files under the DINOv2 reference tensor names, with the
/// architecture in `__metadata__` (see `ViTConfig.metadata`).
extension ViT {
    /// The model as a safetensors file (float32), metadata = architecture + `extraMetadata`.
    public func safetensors(extraMetadata: [String: String] = [:]) -> SafetensorsFile {
        var tensors: [String: Tensor] = [:]
        for (name, t) in namedParameters() { tensors[name] = Tensor(float32: t.values, shape: t.shape) }
        return SafetensorsFile(tensors: tensors, metadata: config.metadata.merging(extraMetadata) { $1 })
    }

    /// Writes the model to `path` (atomically: temporary file, then rename).
    public func save(to path: String, extraMetadata: [String: String] = [:]) throws {
        try safetensors(extraMetadata: extraMetadata).write(to: path)
    }

    /// Builds a model from a safetensors file's tensors; F16/BF16/F64 tensors are converted to float32.
    /// `source` names the file in errors.
    public init(safetensors file: SafetensorsFile, source: String, expecting: ViTConfig? = nil) throws {
        var parameters: [String: NamedTensor] = [:]
        for (name, t) in file.tensors {
            do {
                parameters[name] = NamedTensor(shape: t.shape, values: try t.float32Values())
            } catch {
                throw ModelError("\(source): tensor '\(name)' has dtype \(t.dtype.rawValue); a ViT checkpoint holds float tensors")
            }
        }
        try self.init(parameters: parameters, metadata: file.metadata, source: source, expecting: expecting)
    }

    /// Loads a checkpoint written by `save` or converted from a DINOv2 backbone (no metadata needed).
    public static func load(path: String, expecting: ViTConfig? = nil) throws -> ViT {
        try ViT(safetensors: try SafetensorsFile.read(path: path), source: path, expecting: expecting)
    }
}
