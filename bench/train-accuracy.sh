#!/bin/sh
# The training acceptance of `flow op pretrain` and `flow op distill` on synth-images, in
# release: k-NN and linear top-1 of the raw pixels, the random initialisation, the pretrained teacher, the
# distilled student and the student's random initialisation, one table. Not part of `make test`.
#
#   bench/train-accuracy.sh [SEED ...]        (default: 0)
#
# Data (synth-images, 10 classes, 32 px): an unlabelled pool of 8,000 images (seed 1) that
# pretrain and distill train on, 3 epochs each (750 steps of 32 images, the ops' other settings
# at their defaults); the evaluations' labelled train set of 2,000 images (seed 3) and val set of
# 1,000 images (seed 2). Extra options go in PRETRAIN_ARGS and DISTILL_ARGS; THREADS (default 2)
# sets --threads everywhere.
set -eu
cd "$(dirname "$0")/.."
T=${THREADS:-2}
B=${FLOW_BENCH_SCRATCH:-.build-train-rel}
LOG=${TMPDIR:-/tmp}/flow-train-accuracy-build.log
swift build -c release --scratch-path "$B" --product flow >"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
F=$(cd "$B/release" && pwd)/flow
W=${TMPDIR:-/tmp}/flow-train-accuracy
mkdir -p "$W"
cd "$W"
[ -d pool ] || "$F" op synth-images --count 8000 --classes 10 --size 32 --seed 1 --shards 8 --out pool --prefix pool >/dev/null
[ -d train ] || "$F" op synth-images --count 2000 --classes 10 --size 32 --seed 3 --shards 4 --out train --prefix train >/dev/null
[ -d val ] || "$F" op synth-images --count 1000 --classes 10 --size 32 --seed 2 --shards 2 --out val --prefix val >/dev/null
echo "== $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $T threads"

# top-1 of a model: "knn k=10 / k=20  linear"
score() {
  "$F" op eval-knn --model "$1" --train train --val val --k 10,20 --threads "$T" --out "$1.knn.json" >/dev/null 2>&1
  "$F" op eval-linear --model "$1" --train train --val val --threads "$T" --out "$1.lin.json" >/dev/null 2>&1
  python3 -c 'import json,sys
k=json.load(open(sys.argv[1])); l=json.load(open(sys.argv[2]))
acc={str(r["k"]):r["top1"] for r in k["results"]}
print("%.3f / %.3f | %.3f" % (acc["10"], acc["20"], l["val_top1"]))' "$1.knn.json" "$1.lin.json"
}

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }
now() { date +%s.%N; }

echo "| seed | model | k-NN top-1 k=10 / k=20 \| linear top-1 | train time |"
echo "|---|---|---|---|"
# The baseline every model must beat: the same k-NN and linear probe on the raw pixels.
"$F" op eval-knn --pixels --image-size 32 --train train --val val --k 10,20 --threads "$T" --out pixels.knn.json >/dev/null 2>&1
"$F" op eval-linear --pixels --image-size 32 --train train --val val --threads "$T" --out pixels.lin.json >/dev/null 2>&1
python3 -c 'import json,sys
k=json.load(open(sys.argv[1])); l=json.load(open(sys.argv[2]))
acc={str(r["k"]):r["top1"] for r in k["results"]}
print("| | raw pixels | %.3f / %.3f | %.3f | |" % (acc["10"], acc["20"], l["val_top1"]))' pixels.knn.json pixels.lin.json
for S in ${*:-0}; do
  "$F" op init-vit --arch vit-test --patch 4 --image-size 32 --layerscale 1 --seed "$S" --out "init-$S.safetensors" >/dev/null
  t0=$(now)
  # shellcheck disable=SC2086
  "$F" op pretrain --data pool --epochs 3 --init "init-$S.safetensors" --seed "$S" --threads "$T" ${PRETRAIN_ARGS:-} \
    --model-out "teacher-$S.safetensors" --state-out "teacher-state-$S.safetensors" --log "pretrain-$S.jsonl" >/dev/null 2>&1
  t1=$(now)
  # shellcheck disable=SC2086
  "$F" op distill --teacher "teacher-$S.safetensors" --teacher-state "teacher-state-$S.safetensors" --data pool --epochs 3 \
    --depth 1 --seed "$S" --threads "$T" ${DISTILL_ARGS:-} \
    --model-out "student-$S.safetensors" --state-out "student-state-$S.safetensors" --log "distill-$S.jsonl" >/dev/null 2>&1
  t2=$(now)
  # The student's random initialisation: distill with a zero learning rate (nothing moves).
  # shellcheck disable=SC2086
  "$F" op distill --teacher "teacher-$S.safetensors" --teacher-state "teacher-state-$S.safetensors" --data train \
    --depth 1 --seed "$S" --threads "$T" ${DISTILL_ARGS:-} --lr 0 --epochs 1 \
    --model-out "student-init-$S.safetensors" --state-out "student-init-state-$S.safetensors" --log "student-init-$S.jsonl" >/dev/null 2>&1
  echo "| $S | random init (vit-test) | $(score "init-$S.safetensors") | |"
  echo "| $S | pretrained teacher | $(score "teacher-$S.safetensors") | $(secs "$t0" "$t1") s |"
  echo "| $S | student (depth 1) at random init | $(score "student-init-$S.safetensors") | |"
  echo "| $S | distilled student | $(score "student-$S.safetensors") | $(secs "$t1" "$t2") s |"
done
