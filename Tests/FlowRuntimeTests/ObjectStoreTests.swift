import Foundation
@testable import FlowRuntime
import FlowTestSupport
import Testing
import XXHash

@Suite struct ObjectStoreTests {
    /// Objects a remote's download verified are adopted by rename and restored by a kernel copy:
    /// the bytes arrive whole, empty and large files alike.
    @Test(arguments: [0, 1, 3 << 20])
    func adoptedObjectsRestoreByteForByte(size: Int) throws {
        let dir = TemporaryDirectory()
        let store = try ObjectStore(root: dir.path + "/cache")
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let download = dir.path + "/cache/tmp/download"
        try Data(bytes).write(to: URL(fileURLWithPath: download))
        let digest = XXH128.hash(bytes)
        #expect(store.adopt([StoreTransferItem(digest: digest, path: download)]).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: download), "adopting moves the file")
        for mode in [LinkMode.auto, .copy] {
            let dest = dir.path + "/out/\(mode.rawValue).bin"
            try store.restore(digest, to: dest, executable: false, link: mode)
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dest))) == bytes)
        }
        #expect(store.verify(digest))
    }

    @Test func ingestRestoreAndVerify() throws {
        let dir = TemporaryDirectory()
        let store = try ObjectStore(root: dir.path + "/cache")
        try dir.write("text.txt", String(repeating: "compressible line\n", count: 1000))
        try dir.write("noise.bin", Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }))
        let text = try store.ingest(dir.path + "/text.txt")
        let noise = try store.ingest(dir.path + "/noise.bin")
        #expect(text.compressed)
        let textBytes = Array(try dir.readData("text.txt"))
        let textDigest = try ContentHash.file(dir.path + "/text.txt")
        #expect(text.digest == XXH128.hash(textBytes))
        #expect(text.digest == textDigest)
        for (info, name) in [(text, "text.txt"), (noise, "noise.bin")] {
            for mode in LinkMode.allCases {
                let dest = dir.path + "/restored/\(mode.rawValue)-\(name)"
                try store.restore(info.digest, to: dest, executable: false, link: mode)
                let restored = try Data(contentsOf: URL(fileURLWithPath: dest)), original = try dir.readData(name)
                #expect(restored == original)
            }
        }
        #expect(store.verify(text.digest))
        #expect(store.allObjects().count == 2)
    }

    @Test func ingestingTheSameContentTwiceStoresOneObject() throws {
        let dir = TemporaryDirectory()
        let store = try ObjectStore(root: dir.path + "/cache")
        try dir.write("a", "same bytes\n")
        try dir.write("b", "same bytes\n")
        let a = try store.ingest(dir.path + "/a"), b = try store.ingest(dir.path + "/b")
        #expect(a.digest == b.digest)
        #expect(store.allObjects().count == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/tmp")
        #expect(leftovers.isEmpty)
    }

    @Test func aCorruptObjectIsNeverRestored() throws {
        let dir = TemporaryDirectory()
        let store = try ObjectStore(root: dir.path + "/cache")
        try dir.write("x.npy", Data(repeating: 7, count: 4096))
        let info = try store.ingest(dir.path + "/x.npy")
        let object = store.allObjects()[0].path
        chmod(object, 0o644)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: object))
        bytes[100] ^= 1
        try bytes.write(to: URL(fileURLWithPath: object))
        #expect(throws: CorruptObjectError.self) {
            try store.restore(info.digest, to: dir.path + "/out.npy", executable: false, link: .auto)
        }
        #expect(!dir.exists("out.npy"))
        #expect(!store.contains(info.digest))
    }

    @Test func manifestTextRoundTripAndTornManifests() throws {
        let m = Manifest(key: XXH128.hash("k").hex, step: "embed[3]", outputs: [
            .init(path: "data/x y.npy", kind: "file", digest: XXH128.hash("x").hex, size: 10, executable: false, entries: nil),
            .init(path: "data/dir", kind: "directory", digest: XXH128.hash("d").hex, size: 3, executable: false, entries: [
                .init(path: "a\tb.txt", digest: XXH128.hash("a").hex, size: 3, executable: true),
            ]),
        ], exitStatus: 0, duration: 1.5, finishedAt: 1_700_000_000.25, log: XXH128.hash("log").hex, host: "node-1")
        #expect(Manifest(text: m.text) == m)
        #expect(Manifest(text: String(m.text.dropLast(4))) == nil, "a manifest without its end line must not count")
    }
}
