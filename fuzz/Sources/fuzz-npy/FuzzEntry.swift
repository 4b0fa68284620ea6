import FlowFormats

/// Any bytes given to the .npy reader must decode or throw FormatError: never crash, hang or
/// allocate more than the input justifies. Decoded arrays must re-encode and decode to themselves.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do {
        let array = try NPY.decode(bytes, path: "fuzz.npy")
        let again = try NPY.decode(NPY.encode(array), path: "re-encoded.npy")
        if again != array { fatalError("re-encoding changed the array: \(array.dtype) \(array.shape)") }
        if array.dtype == .float32 || array.dtype == .float16 { _ = try array.float32Values() } else { _ = try array.int64Values() }
    } catch is FormatError {
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}
