"""eval-knn and eval-linear on precomputed planted-cluster features, against NumPy / scikit-learn.

Data (seed 0): C class centres ~ N(0, 1) in d dims, each sample = centre + noise * N(0, 1),
so that accuracy is well below 100%. Written as .npy, then:

- k-NN: `flow op eval-knn --train-emb ...` versus the same algorithm in NumPy (cosine top-max(k),
  softmax(sim / 0.07), cumulative one-hot sums, argmax with ties to the lower class). The
  correct counts per k must agree (up to float ties); times are wall clock (flow's includes
  reading the files and process start).
- Linear: `flow op eval-linear` (its default grid, holdout 0.2) versus scikit-learn
  LogisticRegression (lbfgs, C=1.0) when available: a different optimiser, so only the
  accuracies are expected to be close, not equal.

Usage: .venv/bin/python bench/eval.py --flow .build/release/flow [--n 20000 --val 5000
       --d 384 --classes 100 --threads 2]
(scikit-learn is taken from the running Python; run with a venv that has it, e.g. /tmp/benchvenv.)
"""
import argparse, json, os, subprocess, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--flow", required=True)
p.add_argument("--n", type=int, default=20000)
p.add_argument("--val", type=int, default=5000)
p.add_argument("--d", type=int, default=384)
p.add_argument("--classes", type=int, default=100)
p.add_argument("--noise", type=float, default=2.5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--work", default="/tmp/flowbench/eval")
a = p.parse_args()
os.makedirs(a.work, exist_ok=True)

rng = np.random.default_rng(0)
centres = rng.standard_normal((a.classes, a.d)).astype(np.float32)
ty = rng.integers(0, a.classes, a.n)
vy = rng.integers(0, a.classes, a.val)
tx = (centres[ty] + a.noise * rng.standard_normal((a.n, a.d))).astype(np.float32)
vx = (centres[vy] + a.noise * rng.standard_normal((a.val, a.d))).astype(np.float32)
for name, arr in [("tx", tx), ("ty", ty.astype(np.int64)), ("vx", vx), ("vy", vy.astype(np.int64))]:
    np.save(os.path.join(a.work, name + ".npy"), arr)
inputs = ["--train-emb", "tx.npy", "--train-labels", "ty.npy", "--val-emb", "vx.npy", "--val-labels", "vy.npy",
          "--threads", str(a.threads)]
print(f"data: {a.n} train, {a.val} val, d={a.d}, {a.classes} classes, noise {a.noise}, threads {a.threads}")


def run(args):
    t = time.perf_counter()
    r = subprocess.run([os.path.abspath(a.flow)] + args, cwd=a.work, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t


ks = [10, 20, 100, 200]
t_flow = run(["op", "eval-knn", "--k", ",".join(map(str, ks)), "--out", "knn.json"] + inputs)
flow_knn = json.load(open(os.path.join(a.work, "knn.json")))

t = time.perf_counter()
tn = tx / np.linalg.norm(tx, axis=1, keepdims=True)
vn = vx / np.linalg.norm(vx, axis=1, keepdims=True)
correct = {k: 0 for k in ks}
for s in range(0, a.val, 1000):
    sims = vn[s:s + 1000] @ tn.T
    idx = np.argsort(-sims, axis=1, kind="stable")[:, :max(ks)]
    top = np.take_along_axis(sims, idx, 1).astype(np.float64)
    w = np.exp((top - top[:, :1]) / 0.07)
    w /= w.sum(1, keepdims=True)
    onehot = np.eye(a.classes)[ty[idx]] * w[:, :, None]
    for k in ks:
        pred = onehot[:, :k].sum(1).argmax(1)
        correct[k] += int((pred == vy[s:s + 1000]).sum())
t_np = time.perf_counter() - t
print(f"k-NN: flow {t_flow:.2f} s (process, incl. loading), numpy {t_np:.2f} s")
for r in flow_knn["results"]:
    print(f"  k={r['k']}: flow top-1 {r['top1']:.4f} ({r['correct_top1']}), numpy {correct[r['k']] / a.val:.4f} "
          f"({correct[r['k']]})")

t_flow = run(["op", "eval-linear", "--out", "linear.json"] + inputs)
lin = json.load(open(os.path.join(a.work, "linear.json")))
print(f"linear: flow {t_flow:.2f} s for {len(lin['grid'])} rates + retrain ({lin['settings']['iterations']} steps of "
      f"{lin['settings']['batch_size']}): chosen lr {lin['chosen_lr']:.4g}, val top-1 {lin['val_top1']:.4f}")
try:
    from sklearn.linear_model import LogisticRegression
    t = time.perf_counter()
    clf = LogisticRegression(max_iter=1000).fit(tx, ty)
    acc = float((clf.predict(vx) == vy).mean())
    print(f"linear: scikit-learn LogisticRegression(lbfgs, C=1) {time.perf_counter() - t:.2f} s, val top-1 {acc:.4f}")
except ImportError:
    print("linear: scikit-learn not importable in this Python; skipped the peer")
