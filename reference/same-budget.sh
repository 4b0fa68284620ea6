#!/bin/bash
# The same-budget reference run (reference/same_budget.py) for the given seeds (default 0 1 2),
# on bench/train-accuracy.sh's data (made here if missing). Needs the reference virtualenv
# (reference/setup.sh) and a release flow (FLOW_BIN, default .build/release/flow). Both runs
# start from the same backbone and head (flow's, via reference/build.sh's binary). About 4 min
# per seed on an idle 2-core machine; not part of any test target.
set -euo pipefail
cd "$(dirname "$0")/.."
F=$(realpath "${FLOW_BIN:-.build/release/flow}")
VENV=${REFERENCE_VENV:-.venv-ref}
bash reference/setup.sh "$VENV" >/dev/null
SIDE=$(sh reference/build.sh)
W=${TMPDIR:-/tmp}/flow-train-accuracy
mkdir -p "$W"
[ -d "$W/pool" ] || "$F" op synth-images --count 8000 --classes 10 --size 32 --seed 1 --shards 8 --out "$W/pool" --prefix pool >/dev/null
[ -d "$W/train" ] || "$F" op synth-images --count 2000 --classes 10 --size 32 --seed 3 --shards 4 --out "$W/train" --prefix train >/dev/null
[ -d "$W/val" ] || "$F" op synth-images --count 1000 --classes 10 --size 32 --seed 2 --shards 2 --out "$W/val" --prefix val >/dev/null
for S in "${@:-0 1 2}"; do
  for s in $S; do
    "$VENV/bin/python" -W ignore::FutureWarning reference/same_budget.py --flow "$F" --flow-side "$SIDE" --work "$W" --seed "$s" 2>&1 | grep -v xFormers
  done
done
