import FlowFormats
#if canImport(Glibc)
import Glibc
#endif

/// ShardReader takes a path, so each input is written to one scratch file per process and read
/// to the end. Any bytes must give samples or a FormatError: never a crash, a hang, or an
/// allocation sized by a header field the data does not back.
let scratch = "/tmp/flow-fuzz-shard-\(getpid()).tar"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let f = fopen(scratch, "wb") else { fatalError("cannot write \(scratch)") }
    if let data, size > 0 { fwrite(data, 1, size, f) }
    fclose(f)
    do {
        let reader = try ShardReader(path: scratch)
        var samples = 0
        while let sample = try reader.next() {
            samples += 1
            if sample.entries.isEmpty { fatalError("sample '\(sample.key)' has no entries") }
            if samples > 1_000_000 { fatalError("more samples than bytes: runaway reader") }
        }
    } catch is FormatError {
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}
