#!/bin/sh
# ViT-S/14 forward at 224 px through `flow op embed`, end to end, against this machine's sgemm peak.
#
#   bench/vit-forward.sh [IMAGES]      (default 128 images; results go in bench/RESULTS-vit.md by hand)
#   FLOW=path/to/flow bench/vit-forward.sh 64
#
# 1. builds flow in release (scratch path .build-vit-rel);
# 2. measures the sgemm peak with bench/sgemm.sh (1 and 2 threads);
# 3. writes IMAGES synthetic 224x224 JPEGs as shards (flow op synth-images) and a random
#    vit-small patch-14 model (flow op init-vit), in a scratch directory under $TMPDIR;
# 4. runs `flow op embed` 3 times with 1 and with 2 threads, printing the wall time of the
#    whole process and the op's own summary line (forward-only images/s and GFLOP/s).
set -eu
cd "$(dirname "$0")/.."
N=${1:-128}
WORK=${TMPDIR:-/tmp}/flow-vit-bench
# FLOW=/path/to/flow skips the build (e.g. a release binary built from a clean export of HEAD).
if [ -z "${FLOW:-}" ]; then
  LOG=${TMPDIR:-/tmp}/flow-vit-bench-build.log
  swift build -c release --scratch-path .build-vit-rel --product flow >"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
  FLOW=$PWD/.build-vit-rel/release/flow
fi
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== sgemm peak"
sh bench/sgemm.sh
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f "shards-$N/done" ]; then
  rm -rf "shards-$N"
  "$FLOW" op synth-images --count "$N" --size 224 --format jpg --shards 4 --seed 1 --out "shards-$N" >/dev/null
  touch "shards-$N/done"
fi
"$FLOW" op init-vit --arch vit-small --patch 14 --image-size 224 --seed 0 --out vits14.safetensors
for threads in 1 2; do
  echo "== embed, $N images, $threads thread(s)"
  for run in 1 2 3; do
    start=$(date +%s.%N)
    /usr/bin/time -f "   process: user %U s, sys %S s" "$FLOW" op embed --model vits14.safetensors --shards "shards-$N" --out e.npy --batch 16 --threads "$threads"
    end=$(date +%s.%N)
    echo "   run $run: wall $(echo "$end - $start" | bc) s (process, incl. model load)"
  done
done
