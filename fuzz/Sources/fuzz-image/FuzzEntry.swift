import FlowFormats

/// Any bytes given to the image decoder (JPEG or PNG by magic) must decode or throw: never
/// crash, hang, or allocate for dimensions the input cannot back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    if let image = try? ImageCodec.decode(bytes) {
        if image.data.count != image.channels * image.height * image.width {
            fatalError("decoded \(image.width)x\(image.height)x\(image.channels) with \(image.data.count) values")
        }
    }
    return 0
}
