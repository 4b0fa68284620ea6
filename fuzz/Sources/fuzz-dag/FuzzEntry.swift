import FlowCore

/// Any text given to the .dag parser must parse or throw located errors: never crash or hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let source = String(decoding: bytes, as: UTF8.self)
    do {
        _ = try DAGParser.parse(source: source, file: "fuzz.dag")
    } catch {
        _ = "\(error)"  // rendering the diagnostics (source line, caret) must not crash either
    }
    return 0
}
