// swift-tools-version:6.0
// The flow package. Data flows down this list: C libraries → one Swift wrapper each →
// the engine (FlowCore, pure) and its runtime (FlowRuntime, POSIX) → formats, numerics
// and models → built-in ops → the command line.
import PackageDescription

/// A Debian C library imported through a modulemap and a shim header, linked at build time.
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

/// A Debian C library whose headers are imported through a modulemap and a shim header, but
/// which is loaded only when first called (CLazyLoad): every command would otherwise pay for
/// loading it at start-up. Its headers must be on the default include path (they are on Debian).
func lazyLibrary(_ name: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", providers: [.apt([apt])])
}

let package = Package(
    name: "flow",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "flow", targets: ["flow"]),
        .executable(name: "flow-supervisor", targets: ["flow-supervisor"]),
        // Libraries, for the fuzz package in fuzz/ and for tools built on flow.
        .library(name: "FlowCore", targets: ["FlowCore"]),
        .library(name: "FlowFormats", targets: ["FlowFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries from Debian (installed by `make deps`).
        systemLibrary("CXXHash", pkgConfig: "libxxhash", apt: "libxxhash-dev"),
        systemLibrary("CLZ4", pkgConfig: "liblz4", apt: "liblz4-dev"),
        systemLibrary("CSQLite3", pkgConfig: "sqlite3", apt: "libsqlite3-dev"),
        lazyLibrary("CArchive", apt: "libarchive-dev"),
        lazyLibrary("CTurboJPEG", apt: "libturbojpeg0-dev"),
        lazyLibrary("CPNG", apt: "libpng-dev"),
        lazyLibrary("COpenBLAS", apt: "libopenblas-dev"),
        lazyLibrary("CCurl", apt: "libcurl4-openssl-dev"),
        // Starting the step supervisor, and the messages flow and the supervisor exchange.
        .target(name: "CSpawn"),
        .target(name: "CKernels"),
        // The library functions of the lazyLibrary targets, each loading its library on first use.
        .target(name: "CLazyLoad", linkerSettings: [.linkedLibrary("dl")]),

        // One Swift wrapper per C library; none of them knows about flow.
        .target(name: "XXHash", dependencies: ["CXXHash"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "LZ4", dependencies: ["CLZ4"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "SQLite", dependencies: ["CSQLite3"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Archive", dependencies: ["CArchive", "CLazyLoad"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "JPEG", dependencies: ["CTurboJPEG", "CLazyLoad"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "PNG", dependencies: ["CPNG", "CLazyLoad"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "BLAS", dependencies: ["COpenBLAS", "CLazyLoad"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The remote cache's transport: HEAD/GET/PUT batches over curl's multi interface.
        .target(name: "HTTP", dependencies: ["CCurl", "CLazyLoad"], swiftSettings: [.swiftLanguageMode(.v6)]),

        // The engine: .dag language, workflow model, keys, staleness, planning, scheduling.
        // No file system or process calls: it sees the world through protocols.
        .target(name: "FlowCore", dependencies: ["XXHash"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The engine's POSIX side: files and hashing, the cache, the journal, the local executor.
        .target(name: "FlowRuntime", dependencies: ["FlowCore", "XXHash", "LZ4", "SQLite", "CSpawn", "HTTP"],
                swiftSettings: [.swiftLanguageMode(.v6)]),

        // Artifacts: .npy, safetensors, WebDataset shards, images.
        .target(name: "FlowFormats", dependencies: ["Archive", "LZ4", "JPEG", "PNG"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Numeric core and curation algorithms on OpenBLAS.
        .target(name: "FlowNumerics", dependencies: ["BLAS", "CKernels"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // ViT, DINO heads, losses, training.
        .target(name: "FlowModels", dependencies: ["FlowNumerics", "FlowFormats"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Built-in steps, each a `flow op NAME` subcommand.
        .target(name: "FlowOps", dependencies: [
            "FlowFormats", "FlowNumerics", "FlowModels", "XXHash",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Seeing a run: the DAG as DOT, Mermaid and SVG, and the self-contained HTML report.
        .target(name: "FlowReport", dependencies: ["FlowCore", "FlowRuntime"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The command line: run, status, explain, runs, verify, gc, op, ...
        .target(name: "FlowCommands", dependencies: [
            "FlowCore", "FlowRuntime", "FlowOps", "FlowReport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The release binary links GCC's C++ runtime (which the Swift runtime, Foundation and ICU
        // use) statically, through the linker script in Sources/flow/link, and libgcc with it:
        // loading libstdc++.so.6 and libgcc_s.so.1 was about 1 ms of every command's 4.5 ms start
        // (bench/RESULTS.md, sixth pass). Its symbols stay inside the binary (the toolchain links
        // with --exclude-libs ALL), so a library loaded later that needs libstdc++.so.6 (libarchive,
        // through ICU) loads its own copy, as a plugin would. Debug builds load the Swift runtime
        // as a shared library, which brings libstdc++.so.6 anyway: they link as before.
        .executableTarget(name: "flow", dependencies: ["FlowCommands"], exclude: ["link"],
                          swiftSettings: [.swiftLanguageMode(.v6)],
                          linkerSettings: [.unsafeFlags(["-L", Context.packageDirectory + "/Sources/flow/link",
                                                         "-Xclang-linker", "-static-libgcc"],
                                                        .when(configuration: .release))]),
        // The small C process between flow and the commands of its local steps, one per run
        // (see its main.c): it starts each command in a new process group with a parent-death
        // signal, which posix_spawn cannot express, and ends them all if flow dies.
        // Linked statically: it uses only libc, and loading the Swift runtime that SwiftPM links
        // into every executable took 1.6 ms of CPU at each start. (The linker warns about dlopen
        // in the static Swift runtime; the supervisor never calls it.)
        .executableTarget(name: "flow-supervisor", dependencies: ["CSpawn"],
                          linkerSettings: [.unsafeFlags(["-static-executable"])]),

        // Test helpers: temporary workspaces, running the built binary, in-memory fakes.
        .target(name: "FlowTestSupport", dependencies: ["FlowCore"], path: "Tests/FlowTestSupport"),
        .testTarget(name: "WrapperTests", dependencies: ["XXHash", "LZ4", "SQLite", "Archive", "JPEG", "PNG", "BLAS", "FlowTestSupport"]),
        .testTarget(name: "FlowCoreTests", dependencies: ["FlowCore", "FlowTestSupport"]),
        .testTarget(name: "FlowRuntimeTests", dependencies: ["FlowRuntime", "FlowTestSupport"]),
        .testTarget(name: "FlowReportTests", dependencies: ["FlowReport", "FlowTestSupport"]),
        .testTarget(name: "FlowFormatsTests", dependencies: ["FlowFormats", "FlowTestSupport"]),
        .testTarget(name: "FlowNumericsTests", dependencies: ["FlowNumerics", "FlowTestSupport"]),
        .testTarget(name: "FlowModelsTests", dependencies: ["FlowModels", "FlowTestSupport"], exclude: ["Fixtures"]),
        // Against a real nginx (tests/nginx) and a fault-injecting proxy in front of it.
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "FlowTestSupport"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "FlowEndToEndTests", dependencies: ["FlowTestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
