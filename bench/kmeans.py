"""k-means side by side: flow vs faiss-cpu vs scikit-learn, same data, same thread count.

Data: standard-normal float32 (seed 0), n x d; exactly --iters Lloyd iterations from a random
init (k data points; each tool draws its own). Every tool runs in a fresh process with
OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T (flow gets --threads T). "train s" is timed inside
the process around the clustering call (flow: its own stderr summary, which excludes loading
the .npy and includes a final assignment pass, like scikit-learn's). "train + assignment s" adds,
for faiss, one `index.search(x, 1)` against the final centroids: the pass flow and scikit-learn
make to return each point's cluster, so that column compares equal outputs. Inertia is recomputed here
for every tool the same way: squared distance of each point to its nearest final centroid,
summed in float64.

Usage: /tmp/benchvenv/bin/python bench/kmeans.py --flow .build-numerics-rel/release/flow \
         [--n 200000 --d 384 --k 1024 --iters 10 --threads 1,2 --tools flow,faiss,sklearn --repeats 1]

The OpenBLAS copies inside the faiss wheel (0.3.15) and Debian's (0.3.21) both fall back to the
generic Prescott kernel on this machine's Xeon; by default every tool therefore runs with
OPENBLAS_CORETYPE=SkylakeX (flow honours a user-set OPENBLAS_CORETYPE), so all use the same
AVX-512 sgemm kernels. --coretype none shows each library's own choice.
"""
import argparse, json, os, re, subprocess, sys, time
import numpy as np

def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} threads={i.get('num_threads')}" for i in threadpool_info()]
    except Exception as e:
        return [str(e)]


WORK = "/tmp/flowbench/kmeans"


def data_path(n, d):
    path = f"{WORK}/X_n{n}_d{d}_s0.npy"
    if not os.path.exists(path):
        os.makedirs(WORK, exist_ok=True)
        x = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
        np.save(path, x)
    return path


def inertia(x, c):
    """Sum over points of the squared distance to the nearest centroid (float64 sum)."""
    cn = (c.astype(np.float64) ** 2).sum(1)
    total = 0.0
    for s in range(0, len(x), 8192):
        b = x[s:s + 8192]
        d = cn[None, :] - 2.0 * (b @ c.T).astype(np.float64)
        total += float((d.min(1) + (b.astype(np.float64) ** 2).sum(1)).clip(min=0).sum())
    return total


def worker(tool, data, k, iters, threads, out):
    x = np.load(data)
    if tool == "faiss":
        import faiss
        faiss.omp_set_num_threads(threads)
        km = faiss.Kmeans(x.shape[1], k, niter=iters, seed=1234, max_points_per_centroid=10**9, verbose=False)
        t = time.perf_counter(); km.train(x); s = time.perf_counter() - t
        c = km.centroids
        # faiss's train returns centroids only; the assignment flow and scikit-learn also
        # return costs one more pass, timed here for a like-for-like figure.
        t = time.perf_counter(); km.index.search(x, 1); assign_s = time.perf_counter() - t
    else:
        from sklearn.cluster import KMeans
        km = KMeans(k, init="random", n_init=1, max_iter=iters, tol=0, algorithm="lloyd", random_state=0)
        t = time.perf_counter(); km.fit(x); s = time.perf_counter() - t
        c = km.cluster_centers_.astype(np.float32)
        assign_s = 0.0   # fit's final E-step already assigned every point
    np.save(out, c)
    print(json.dumps({"train_s": s, "assign_s": assign_s, "blas": blas_info()}))


def run_tool(tool, args, data, threads, rep):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    if args.coretype != "none":
        env["OPENBLAS_CORETYPE"] = args.coretype
    cpath = f"{WORK}/C_{tool}_t{threads}_r{rep}.npy"
    t0 = time.perf_counter()
    if tool == "flow":
        cmd = [args.flow, "op", "kmeans", "--emb", data, "--k", str(args.k), "--iters", str(args.iters),
               "--init", "random", "--seed", str(rep), "--threads", str(threads),
               "--centroids", cpath, "--assign", f"{WORK}/A_flow.npy", "--log", f"{WORK}/log_flow.json"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"flow failed: {p.stderr}")
        train = float(re.search(r"train ([0-9.]+) s", p.stderr).group(1))
        assign = 0.0   # train includes the final assignment pass
    else:
        cmd = [sys.executable, __file__, "--worker", tool, "--data", data, "--k", str(args.k),
               "--iters", str(args.iters), "--threads", str(threads), "--out", cpath]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{tool} failed: {p.stderr}")
        res = json.loads(p.stdout.strip().splitlines()[-1])
        train, assign = res["train_s"], res["assign_s"]
        print(f"<!-- {tool} BLAS: {res['blas']} -->")
    process = time.perf_counter() - t0
    return train, assign, process, cpath


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker"); ap.add_argument("--data"); ap.add_argument("--out")
    ap.add_argument("--flow", default=".build-numerics-rel/release/flow")
    ap.add_argument("--n", type=int, default=200_000); ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--k", type=int, default=1024); ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", default="1,2"); ap.add_argument("--tools", default="flow,faiss,sklearn")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--coretype", default="SkylakeX",
                    help="OPENBLAS_CORETYPE for every tool (same AVX-512 sgemm kernels); 'none' leaves each library's own choice")
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.data, args.k, args.iters, int(args.threads), args.out)
    data = data_path(args.n, args.d)
    x = np.load(data)
    print(f"kmeans n={args.n} d={args.d} k={args.k} iters={args.iters}")
    print("| tool | threads | train s | train + assignment s | process s | inertia |")
    print("| --- | --- | --- | --- | --- | --- |")
    for threads in [int(t) for t in args.threads.split(",")]:
        for rep in range(args.repeats):
            for tool in args.tools.split(","):   # alternate tools within each repeat
                train, assign, process, cpath = run_tool(tool, args, data, threads, rep)
                print(f"| {tool} | {threads} | {train:.2f} | {train + assign:.2f} | {process:.2f} | {inertia(x, np.load(cpath)):.6e} |", flush=True)


if __name__ == "__main__":
    main()
