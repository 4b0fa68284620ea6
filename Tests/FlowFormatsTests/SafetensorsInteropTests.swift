import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

/// flow ⇄ Python `safetensors` (the reference Rust implementation): each reads the other's files,
/// and both write the same bytes. Skipped (with a printed reason) without safetensors and numpy.
@Suite struct SafetensorsInteropTests {
    @Test func pythonReadsWhatFlowWrites() throws {
        let python = try Python.require(["numpy", "safetensors"])
        let dir = TemporaryDirectory()
        var file = SafetensorsTests.sample
        file.tensors["packed"] = nil  // numpy has no F4
        try file.write(to: dir.path + "/f.safetensors")
        let script = """
        import numpy as np
        from safetensors import safe_open, deserialize
        with safe_open("f.safetensors", framework="np") as f:
            print(sorted(f.metadata().items()))
            for k in sorted(f.keys()):
                if k == "a.brain": continue  # numpy has no bfloat16: read below from the raw bytes
                t = f.get_tensor(k)
                print(k, t.dtype.str, list(t.shape), t.reshape(-1).astype("<f8").tolist() if t.dtype.kind in "fc" else t.reshape(-1).astype(np.int64).tolist())
        for k, t in deserialize(open("f.safetensors", "rb").read()):
            if t["dtype"] == "BF16":
                v = (np.frombuffer(bytes(t["data"]), "<u2").astype("<u4") << 16).view("<f4")
                print(k, "bf16", list(t["shape"]), v.astype("<f8").tolist())
        """
        let r = try Python.run(python, script: script, in: dir.path)
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("('format', 'pt')") == true)
        for (name, t) in file.tensors {
            guard let line = lines.first(where: { $0.hasPrefix(name + " ") }) else {
                Issue.record("python did not list \(name)"); continue
            }
            let values = line[line.index(after: line.lastIndex(of: "[")!)...].dropLast()
            let got = values.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) ?? .nan }
            let want: [Double] = t.dtype == .f32 || t.dtype == .f16 || t.dtype == .bf16
                ? try t.float32Values().map(Double.init) : try t.int64Values().map(Double.init)
            #expect(got == want, "\(name): \(line)")
            #expect(line.contains("[" + t.shape.map(String.init).joined(separator: ", ") + "]"), "\(name) shape: \(line)")
        }
    }

    @Test func flowReadsWhatPythonWritesByteForByte() throws {
        let python = try Python.require(["numpy", "safetensors"])
        let dir = TemporaryDirectory()
        let script = """
        import numpy as np
        from safetensors.numpy import save_file
        save_file({
            "w": np.arange(6, dtype=np.float32).reshape(2, 3) / 8,
            "h": np.array([0.5, -2], dtype=np.float16),
            "i": np.array([[3, -4]], dtype=np.int64),
            "j": np.array([5], dtype=np.int32),
            "u": np.array([7, 8, 9], dtype=np.uint8),
            "e": np.zeros((0, 2), dtype=np.float32),
            "s": np.array(1.5, dtype=np.float32),
        }, "p.safetensors", metadata={"framework": "np"})
        save_file({"only": np.ones(3, dtype=np.float32)}, "nometa.safetensors")
        """
        let r = try Python.run(python, script: script, in: dir.path)
        #expect(r.status == 0, "\(r)")
        let expected = SafetensorsFile(tensors: [
            "w": Tensor(float32: (0..<6).map { Float($0) / 8 }, shape: [2, 3]),
            "h": Tensor([0.5, -2], shape: [2], as: .f16),
            "i": Tensor(int64: [3, -4], shape: [1, 2]),
            "j": try Tensor(dtype: .i32, shape: [1], bytes: [5, 0, 0, 0]),
            "u": try Tensor(dtype: .u8, shape: [3], bytes: [7, 8, 9]),
            "e": Tensor(float32: [], shape: [0, 2]),
            "s": Tensor(float32: [1.5], shape: []),
        ], metadata: ["framework": "np"])
        #expect(try SafetensorsFile.read(path: dir.path + "/p.safetensors") == expected)
        // One metadata key, so the reference's unordered map cannot differ: bytes must match.
        #expect(try expected.encode() == [UInt8](dir.readData("p.safetensors")))
        let nometa = SafetensorsFile(tensors: ["only": Tensor(float32: [1, 1, 1], shape: [3])])
        #expect(try nometa.encode() == [UInt8](dir.readData("nometa.safetensors")))
    }
}
