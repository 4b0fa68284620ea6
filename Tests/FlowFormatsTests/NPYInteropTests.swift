import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

/// flow ⇄ NumPy: np.load reads what flow writes, flow reads what np.save writes, and both write
/// the same bytes. Skipped (with a printed reason) when no Python with numpy is available.
@Suite struct NPYInteropTests {
    @Test func numpyReadsWhatFlowWrites() throws {
        let python = try Python.require(["numpy"])
        let dir = TemporaryDirectory()
        for (i, a) in NPYTests.sampleArrays.enumerated() { try NPY.write(a, to: dir.path + "/\(i).npy") }
        let script = """
        import numpy as np, sys
        for i in range(\(NPYTests.sampleArrays.count)):
            a = np.load(f"{i}.npy")
            flat = a.reshape(-1)
            vals = [repr(float(x)) if a.dtype.kind == 'f' else str(int(x)) for x in flat]
            print(i, a.dtype.str, a.shape, ",".join(vals))
        """
        let r = try Python.run(python, script: script, in: dir.path)
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == NPYTests.sampleArrays.count)
        for (i, a) in NPYTests.sampleArrays.enumerated() where i < lines.count {
            let fields = lines[i].split(separator: " ", maxSplits: 2)
            #expect(String(fields[1]) == a.dtype.rawValue)
            let values = lines[i].split(separator: ")").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let isFloat = a.dtype == .float32 || a.dtype == .float16
            let expected = isFloat ? try a.float32Values().map { "\(Double($0))" } : try a.int64Values().map { "\($0)" }
            let got = values.isEmpty ? [] : values.split(separator: ",").map { field -> String in
                isFloat ? Double(field).map { "\($0)" } ?? String(field) : String(field)
            }
            #expect(got == expected, "array \(i)")
        }
    }

    @Test func flowReadsWhatNumpyWritesByteForByte() throws {
        let python = try Python.require(["numpy"])
        let dir = TemporaryDirectory()
        let script = """
        import numpy as np
        np.save("f4.npy", np.arange(12, dtype="<f4").reshape(3, 4) / 4)
        np.save("f2.npy", np.array([0.5, -1, 65504], dtype="<f2"))
        np.save("i4.npy", np.array([[-7, 8]], dtype="<i4"))
        np.save("i8.npy", np.arange(5, dtype="<i8") * 10**12)
        np.save("u1.npy", np.array([1, 255], dtype="|u1"))
        np.save("b1.npy", np.array([True, False, True]))
        np.save("scalar.npy", np.float32(2.5))
        np.save("empty.npy", np.zeros((0, 3), dtype="<f4"))
        np.save("wide.npy", np.zeros((2,) * 20, dtype="|u1"))
        np.save("fortran.npy", np.asfortranarray(np.ones((2, 3), dtype="<f4")))
        np.save("object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        """
        let r = try Python.run(python, script: script, in: dir.path)
        #expect(r.status == 0, "\(r)")
        let expected: [String: NPYArray] = [
            "f4": NPYArray(float32: (0..<12).map { Float($0) / 4 }, shape: [3, 4]),
            "f2": NPYArray(float16: [0.5, -1, 65504], shape: [3]),
            "i4": NPYArray(int32: [-7, 8], shape: [1, 2]),
            "i8": NPYArray(int64: (0..<5).map { Int64($0) * 1_000_000_000_000 }, shape: [5]),
            "u1": NPYArray(uint8: [1, 255], shape: [2]),
            "b1": NPYArray(bool: [true, false, true], shape: [3]),
            "scalar": NPYArray(float32: [2.5], shape: []),
            "empty": NPYArray(float32: [], shape: [0, 3]),
            "wide": NPYArray(uint8: [UInt8](repeating: 0, count: 1 << 20), shape: [Int](repeating: 2, count: 20)),
        ]
        for (name, array) in expected {
            let path = dir.path + "/\(name).npy"
            #expect(try NPY.read(path: path) == array, "\(name)")
            #expect(try NPY.encode(array) == [UInt8](dir.readData("\(name).npy")), "\(name): bytes differ from np.save")
        }
        #expect { try NPY.read(path: dir.path + "/fortran.npy") } throws: {
            ($0 as? FormatError)?.message.contains("Fortran-order") == true
        }
        #expect { try NPY.read(path: dir.path + "/object.npy") } throws: {
            ($0 as? FormatError)?.message.contains("object arrays") == true
        }
    }
}
