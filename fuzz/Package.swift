// swift-tools-version:6.0
// libFuzzer targets for flow's parsers of untrusted input. Kept out of the main package because
// `-sanitize=fuzzer` must apply to every target of a build. Build and run with `./run.sh TARGET SECONDS`.
import PackageDescription

/// One executable per fuzz target: Sources/fuzz-NAME/{FuzzEntry.swift, main.swift}.
func fuzzTarget(_ name: String, _ product: String) -> Target {
    .executableTarget(
        name: "fuzz-\(name)",
        dependencies: ["CFuzzDriver", .product(name: product, package: "flow")],
        path: "Sources/fuzz-\(name)"
    )
}

let package = Package(
    name: "flow-fuzz",
    dependencies: [
        // The main package, by path; its identity is the checkout folder's name, so name it.
        .package(name: "flow", path: ".."),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver (the fuzzer runtime is linked by -sanitize=fuzzer).
        .target(name: "CFuzzDriver"),
        fuzzTarget("npy", "FlowFormats"),
        fuzzTarget("safetensors", "FlowFormats"),
        fuzzTarget("dag", "FlowCore"),
        fuzzTarget("image", "FlowFormats"),
        fuzzTarget("shard", "FlowFormats"),
    ]
)
