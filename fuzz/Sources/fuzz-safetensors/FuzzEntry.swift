import FlowFormats

/// Any bytes given to the safetensors reader must decode or throw FormatError. Decoded files
/// must re-encode (deterministically) and decode to themselves.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do {
        let file = try SafetensorsFile.decode(bytes, path: "fuzz.safetensors")
        let encoded = try file.encode()
        let again = try SafetensorsFile.decode(encoded, path: "re-encoded.safetensors")
        if again != file { fatalError("re-encoding changed the file (\(file.tensors.count) tensors)") }
        if try again.encode() != encoded { fatalError("encoding is not deterministic") }
        for t in file.tensors.values where [.f32, .f16, .bf16, .f64].contains(t.dtype) { _ = try t.float32Values() }
    } catch is FormatError {
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}
