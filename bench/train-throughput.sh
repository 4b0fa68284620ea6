#!/bin/sh
# Training throughput of `flow op pretrain` in release: images per second for the default
# configuration (vit-test, 32 px, 6 local crops of 16 px) and for ViT-S/14 at 224 px (a few
# steps, batch 4, 2 local crops of 98 px), and the fraction of the machine's sgemm peak
# (bench/sgemm.sh) the backbone's matrix products reach. Results go in
# bench/RESULTS-training.md by hand.
#
#   bench/train-throughput.sh [THREADS]        (default 2)
#
# FLOPs per image count the backbone's matrix products only (ViTConfig.forwardFLOPs): teacher
# forward on 2 global crops + student forward and backward (= 3x forward) on 2 global and L local
# crops. Heads, losses, augmentation and the optimizer are not counted, but their time is.
set -eu
cd "$(dirname "$0")/.."
T=${1:-2}
B=.build-train-rel
LOG=${TMPDIR:-/tmp}/flow-train-throughput-build.log
swift build -c release --scratch-path $B >"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
F=$B/release/flow
W=${TMPDIR:-/tmp}/flow-train-throughput
rm -rf "$W"; mkdir -p "$W"
echo "== $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $T threads"
PEAK=$(bench/sgemm.sh | tee /dev/stderr | sed -n "s/.*$T thread(s): best \([0-9.]*\) GFLOP.*/\1/p" | head -1)
[ -n "$PEAK" ] || PEAK=$(bench/sgemm.sh | sed -n 's/.*best \([0-9.]*\) GFLOP.*/\1/p' | head -1)

# forwardFLOPs(side) for dim D, depth L, mlp H, patch P (as ViTConfig.forwardFLOPs).
flops() { awk -v d="$1" -v depth="$2" -v h="$3" -v p="$4" -v s="$5" 'BEGIN {
  n = (s / p) * (s / p); t = n + 1
  print 2 * n * 3 * p * p * d + depth * (2 * t * (4 * d * d + 2 * d * h) + 4 * t * t * d) }'; }

run() { # name dim depth mlp patch global local-size local-crops count batch args...
  name=$1 d=$2 depth=$3 h=$4 p=$5 g=$6 ls=$7 lc=$8 count=$9 batch=${10}; shift 10
  "$F" op synth-images --count "$count" --classes 10 --size "$g" --seed 1 --shards 1 --out "$W/$name" >/dev/null
  out=$("$F" op pretrain --data "$W/$name" --image-size "$g" --patch "$p" --local-size "$ls" --local-crops "$lc" \
        --batch "$batch" --epochs 1 --threads "$T" "$@" \
        --model-out "$W/$name.safetensors" --state-out "$W/$name-state.safetensors" --log "$W/$name.jsonl")
  # Median images/s over the steps after the first (warm-up).
  ips=$(sed -n 's/.*"images_per_s":\([0-9.]*\).*/\1/p' "$W/$name.jsonl" | tail -n +2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  fg=$(flops "$d" "$depth" "$h" "$p" "$g"); fl=$(flops "$d" "$depth" "$h" "$p" "$ls")
  awk -v ips="$ips" -v fg="$fg" -v fl="$fl" -v lc="$lc" -v peak="$PEAK" -v name="$name" 'BEGIN {
    per = 2 * fg + 3 * (2 * fg + lc * fl)
    printf "%s: %.1f images/s (median step), %.3f GFLOP/image, %.1f GFLOP/s = %.0f%% of sgemm peak %.1f GFLOP/s\n",
      name, ips, per / 1e9, ips * per / 1e9, 100 * ips * per / 1e9 / peak, peak }'
  echo "   $(echo "$out" | cut -c1-120)"
}

run default 32 2 128 4 32 16 6 320 32
run vit-s14-224 384 12 1536 14 224 98 2 12 4 --arch vit-small --prototypes 1024
