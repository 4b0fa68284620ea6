import Testing
import Foundation
import FlowNumerics
import FlowTestSupport

/// k-means and top-k against NumPy on small data (skipped, with a printed reason, without numpy).
@Suite(.serialized) struct NumPyTests {
    static let lloydScript = """
    import json, sys, numpy as np
    d = json.load(open(sys.argv[1]))
    x = np.array(d["x"], dtype=np.float64).reshape(d["n"], d["d"])
    c = x[d["init"]].copy()
    for _ in range(d["iters"] + 1):
        dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        a = dist.argmin(1)
        if _ == d["iters"]: break
        for j in range(len(c)):
            if (a == j).any(): c[j] = x[a == j].mean(0)
    q = x[:7] / np.linalg.norm(x[:7], axis=1, keepdims=True)
    p = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = q @ p.T
    top = np.argsort(-s, axis=1, kind="stable")[:, :5]
    print(json.dumps({"assign": a.tolist(), "centroids": c.ravel().tolist(), "top": top.ravel().tolist(),
                      "inertia": float(dist.min(1).sum())}))
    """

    @Test func lloydAndTopKMatchNumPy() throws {
        let python = try Python.require(["numpy"])
        let (n, d) = (90, 6)
        let x = blobs((0..<4).map { b in (0..<d).map { Float($0 == b ? 6 : 0) } }, perBlob: n / 4, sigma: 1.5, seed: 12)
        let initial = [0, 1, 2, 3, 44]
        let dir = TemporaryDirectory()
        let payload: [String: Any] = ["x": x.data.map(Double.init), "n": x.rows, "d": d, "init": initial, "iters": 8]
        try dir.write("in.json", try JSONSerialization.data(withJSONObject: payload))
        let result = try Python.run(python, script: Self.lloydScript, in: dir.path, args: [dir.url("in.json").path])
        try #require(result.status == 0, "\(result)")
        let out = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]

        let ours = KMeans.lloyd(x, initial: x.rows(initial), iterations: 8)
        #expect(ours.assignment == (out["assign"] as! [Int]))
        let theirs = out["centroids"] as! [Double]
        for i in theirs.indices { #expect(abs(Double(ours.centroids.data[i]) - theirs[i]) < 1e-4) }
        #expect(abs(ours.finalInertia - (out["inertia"] as! Double)) < 1e-3 * ours.finalInertia)

        let top = try NearestNeighbors.search(queries: x.rows(in: 0..<7), pool: x, k: 5)
        #expect(top.indices == (out["top"] as! [Int]))
    }
}
