#!/usr/bin/env bash
# Array format throughput: flow (release build) against NumPy and Python safetensors.
#   bench/arrays.sh [ROWS] [COLS]      default 100000 x 384 float32 (153.6 MB)
# Needs a Python with numpy and safetensors: FLOW_PYTHON, else the repo's .venv, else python3.
# Files go to a temporary directory (page cache warm: this measures CPU and memory bandwidth).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rows=${1:-100000}; cols=${2:-384}
python=${FLOW_PYTHON:-$here/../.venv/bin/python}
[ -x "$python" ] || python=python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$here/arrays" && swift build -c release --product arrays-bench >/dev/null)
"$here/arrays/.build/release/arrays-bench" "$tmp" "$rows" "$cols"
"$python" - "$tmp" "$rows" "$cols" <<'PY'
import sys, time, numpy as np
from safetensors.numpy import save_file, load_file
d, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a = np.random.default_rng(0).uniform(-1, 1, (rows, cols)).astype("<f4")
mb = a.nbytes / 1e6
def t(name, f):
    best = min(_t(f) for _ in range(3))
    print(f"numpy {name:<28} {best:8.3f} s  {mb / best:7.0f} MB/s")
def _t(f):
    t0 = time.perf_counter(); f(); return time.perf_counter() - t0
t("np.save", lambda: np.save(d + "/np.npy", a))
t("np.load", lambda: np.load(d + "/np.npy"))
t("np.load(mmap_mode='r') + sum", lambda: np.load(d + "/np.npy", mmap_mode="r").view(np.uint8).sum(dtype=np.uint64))
t("safetensors save_file", lambda: save_file({"emb": a}, d + "/py.safetensors"))
t("safetensors load_file", lambda: load_file(d + "/py.safetensors"))
PY
