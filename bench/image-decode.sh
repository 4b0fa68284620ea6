#!/usr/bin/env bash
# Image decode throughput: `flow op decode-check` (libjpeg-turbo / libpng into float CHW tensors)
# against Pillow on the same WebDataset shards.
#   bench/image-decode.sh [COUNT] [RUNS]     default 2000 images per set, 3 runs each
# Sets: synth-images at 64x64 and 224x224, as PNG and as JPEG (quality 90), 2 shards each.
# FLOW_BIN: the flow binary (default: a release build in .build-images-rel, built if missing).
# FLOW_PYTHON: a Python with numpy and Pillow (default: the repo's .venv).
# Shards are read from the page cache; both sides read the tar and decode every image.
# flow's figure is its in-process time from --report; Pillow's is in-process too.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
count=${1:-2000}; runs=${2:-3}
python=${FLOW_PYTHON:-$root/.venv/bin/python}
if [ -z "${FLOW_BIN:-}" ]; then
  (cd "$root" && swift build -c release --scratch-path .build-images-rel --product flow >/dev/null)
  FLOW_BIN="$root/.build-images-rel/release/flow"
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "%-10s %-6s %-28s %10s %12s\n" set size tool "median s" "images/s"
for size in 64 224; do
  for fmt in jpg png; do
    dir="$tmp/$fmt$size"
    "$FLOW_BIN" op synth-images --count "$count" --classes 10 --size "$size" --format "$fmt" \
      --shards 2 --seed 1 --threads 2 --out "$dir" >/dev/null
    for threads in 1 2; do
      times=$(for _ in $(seq "$runs"); do
        "$FLOW_BIN" op decode-check "$dir" --threads "$threads" --report "$tmp/r.json" >/dev/null
        "$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds'])" "$tmp/r.json"
      done | median)
      printf "%-10s %-6s %-28s %10.3f %12.0f\n" "$fmt" "$size" "flow decode-check -t$threads" "$times" \
        "$(echo "$count / $times" | bc -l)"
    done
    for mode in uint8 float; do
      times=$(for _ in $(seq "$runs"); do
        "$python" - "$dir" "$mode" <<'PY'
import glob, io, sys, tarfile, time
import numpy as np
from PIL import Image
d, mode = sys.argv[1], sys.argv[2]
t0 = time.perf_counter(); n = 0
for path in sorted(glob.glob(d + "/*.tar")):
    with tarfile.open(path) as t:
        for m in t:
            if m.name.endswith((".jpg", ".png")):
                im = Image.open(io.BytesIO(t.extractfile(m).read())).convert("RGB")
                a = np.asarray(im)
                if mode == "float":
                    a = a.astype(np.float32) / 255
                n += 1
print(time.perf_counter() - t0)
PY
      done | median)
      printf "%-10s %-6s %-28s %10.3f %12.0f\n" "$fmt" "$size" "Pillow -> $mode (1 thread)" "$times" \
        "$(echo "$count / $times" | bc -l)"
    done
  done
done
