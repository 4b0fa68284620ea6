"""Exact top-10 self-search side by side: flow retrieve vs faiss IndexFlatIP, same threads.

Data: n standard-normal vectors in d (seed 0), L2-normalised, with planted near-duplicates
(800 pairs + 100 triplets, cosine > 0.95), like the peer benchmark. faiss: add(x), then
search(x, 10) timed in-process. flow: `flow op retrieve --query X --pool X --k 10`, its
"search" time (excludes loading). Both top-10 lists are compared: overlap with each other and
pairs (i<j) with cosine > 0.95 found.

Usage: /tmp/benchvenv/bin/python bench/knn.py --flow .build-numerics-rel/release/flow [--n 100000 --threads 2]

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


WORK = "/tmp/flowbench/knn"


def data_path(n, d):
    path = f"{WORK}/X_n{n}_d{d}.npy"
    if not os.path.exists(path):
        os.makedirs(WORK, exist_ok=True)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, d), dtype=np.float32)
        src = rng.choice(n // 2, 900, replace=False)
        dst = rng.choice(np.arange(n // 2, n), 1000, replace=False)
        for i, s in enumerate(src[:800]):
            x[dst[i]] = x[s] + 0.1 * rng.standard_normal(d, dtype=np.float32)
        for j, s in enumerate(src[800:]):
            x[dst[800 + 2 * j]] = x[s] + 0.1 * rng.standard_normal(d, dtype=np.float32)
            x[dst[801 + 2 * j]] = x[s] + 0.1 * rng.standard_normal(d, dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        np.save(path, x)
    return path


def pairs(idx, scores):
    out = set()
    for i in range(len(idx)):
        for j, s in zip(idx[i], scores[i]):
            if j != i and s > 0.95:
                out.add((min(i, j), max(i, j)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker"); ap.add_argument("--data")
    ap.add_argument("--flow", default=".build-numerics-rel/release/flow")
    ap.add_argument("--n", type=int, default=100_000); ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--threads", default="2"); ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--tools", default="faiss,flow", help="faiss,flow or one of them (compares with the other's saved lists)")
    ap.add_argument("--coretype", default="SkylakeX",
                    help="OPENBLAS_CORETYPE for every tool (same AVX-512 sgemm kernels); 'none' leaves each library's own choice")
    args = ap.parse_args()
    if args.worker == "faiss":
        import faiss
        faiss.omp_set_num_threads(int(args.threads))
        x = np.load(args.data)
        index = faiss.IndexFlatIP(x.shape[1]); index.add(x)
        t = time.perf_counter(); s, i = index.search(x, args.k); el = time.perf_counter() - t
        np.save(f"{WORK}/I_faiss.npy", i); np.save(f"{WORK}/S_faiss.npy", s)
        print(json.dumps({"search_s": el, "blas": blas_info()}))
        return
    data = data_path(args.n, args.d)
    print(f"knn n={args.n} d={args.d} k={args.k}")
    print("| tool | threads | search s | process s | pairs > 0.95 |")
    print("| --- | --- | --- | --- | --- |")
    for threads in [int(t) for t in args.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        if args.coretype != "none":
            env["OPENBLAS_CORETYPE"] = args.coretype
        fs = fp = ws = wp = float("nan")
        if "faiss" in args.tools:
          t0 = time.perf_counter()
          p = subprocess.run([sys.executable, __file__, "--worker", "faiss", "--data", data, "--threads", str(threads),
                            "--k", str(args.k)], env=env, capture_output=True, text=True)
          if p.returncode: sys.exit(p.stderr)
          res = json.loads(p.stdout.strip().splitlines()[-1])
          fs = res["search_s"]; fp = time.perf_counter() - t0
          print(f"<!-- faiss BLAS: {res['blas']} -->")
        if "flow" in args.tools:
          t0 = time.perf_counter()
          p = subprocess.run([args.flow, "op", "retrieve", "--query", data, "--pool", data, "--k", str(args.k),
                            "--threads", str(threads), "--out", f"{WORK}/I_flow.npy", "--scores", f"{WORK}/S_flow.npy"],
                           env=env, capture_output=True, text=True)
          if p.returncode: sys.exit(p.stderr)
          ws = float(re.search(r"search ([0-9.]+) s", p.stdout).group(1)); wp = time.perf_counter() - t0
          print(f"<!-- flow: {p.stdout.strip()} -->")
        fi, fsc = np.load(f"{WORK}/I_faiss.npy"), np.load(f"{WORK}/S_faiss.npy")
        wi, wsc = np.load(f"{WORK}/I_flow.npy").reshape(-1, args.k), np.load(f"{WORK}/S_flow.npy")
        print(f"| faiss IndexFlatIP | {threads} | {fs:.2f} | {fp:.2f} | {len(pairs(fi, fsc))} |")
        print(f"| flow retrieve | {threads} | {ws:.2f} | {wp:.2f} | {len(pairs(wi, wsc))} |")
        same = np.mean([len(set(a) & set(b)) / args.k for a, b in zip(fi, wi)])
        print(f"\ntop-{args.k} overlap flow vs faiss: {same:.5f}; max |score diff| {np.abs(fsc - wsc).max():.2e}\n", flush=True)


if __name__ == "__main__":
    main()
