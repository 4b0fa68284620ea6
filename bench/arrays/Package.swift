// swift-tools-version:6.0
// Throughput of flow's .npy and safetensors readers and writers; run through ../arrays.sh,
// which also times NumPy and Python safetensors on the same sizes.
import PackageDescription

let package = Package(
    name: "arrays-bench",
    dependencies: [.package(name: "flow", path: "../..")],
    targets: [
        .executableTarget(name: "arrays-bench", dependencies: [.product(name: "FlowFormats", package: "flow")]),
    ]
)
