// Runs libFuzzer over FuzzEntry's LLVMFuzzerTestOneInput (see docs/fuzzing.md).
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
// A closure, not the @_cdecl function itself: referencing it here would define the symbol twice.
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) })
