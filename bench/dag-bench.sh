#!/usr/bin/env bash
# Scheduler and up-to-date-check overhead: flow against GNU make, ninja and the process-spawn
# floor (the same commands through `xargs -P 2`, layer by layer, nothing tracked), and snakemake and
# dvc when bench/setup-peers.sh has installed them, on the same layered DAG, in one run.
#
# usage: bench/dag-bench.sh [N...]        (default: 1000 10000)
# env:   FLOW_BIN (default .build/release/flow), RUNS (repeats of the quick phases, default 5),
#        PEERS_VENV (default /tmp/flow-bench-peers), WORK (default /tmp/flow-bench/dag)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=${FLOW_BIN:-$here/../.build/release/flow}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/flow-bench/dag}
PEERS_VENV=${PEERS_VENV:-/tmp/flow-bench-peers}
sizes=${*:-1000 10000}

# Each measurement prints "WALL CPU": wall seconds, and user+system CPU seconds of the command and
# its children (GNU time). CPU time is the robust figure on a loaded machine.
measure() {
  local f; f=$(mktemp)
  /usr/bin/time -f "%e %U %S" -o "$f" timeout "${LIMIT:-600}" "$@" > /dev/null 2>&1 || echo "(failed or over limit: $*)" >&2
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$f"; rm -f "$f"
}
# the run with the median wall time out of RUNS
time_median() {
  for _ in $(seq "$RUNS"); do measure "$@"; done | sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
time_once() { measure "$@"; }
row() { set -- "$1" "$2" "$3" $4; printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5"; }

echo "flow: $("$FLOW_BIN" --version)  make: $(make --version | head -1)  ninja: $(ninja --version)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | phase | N | wall s | CPU s (user+sys, with children) |"
echo "| --- | --- | --- | --- | --- |"
tools="flow make ninja floor snakemake dvc"
# Every copy is made before the first measurement, and the file system then settles: an ext4
# without a journal (this project's machines) skips, when it allocates an inode, every inode freed
# in the last 5 s (300 s while its inode-table block is dirty), one by one. A build started right
# after deleting the last run's copy paid for that in every file it created: flow, which also
# writes a manifest per step, up to 0.4 s per 1,000 steps (bench/RESULTS.md, eighth pass).
for n in $sizes; do
  for tool in $tools; do
    dir=$WORK/N$n/$tool
    rm -rf "$dir"; mkdir -p "$dir"
    python3 "$here/dag_gen.py" "$n" "$dir" > /dev/null
  done
done
sync; sleep 6
for n in $sizes; do
  for tool in $tools; do
    cd "$WORK/N$n/$tool"
    case $tool in
      flow)
        row flow build "$n" "$(time_once "$FLOW_BIN" run -j2 -q)"
        row flow "noop status" "$n" "$(time_median "$FLOW_BIN" status --check)"
        row flow "noop run" "$n" "$(time_median "$FLOW_BIN" run -j2 -q)"
        echo "changed $(date +%s%N)" > src/5
        row flow "rebuild 1 leaf" "$n" "$(time_once "$FLOW_BIN" run -j2 -q)" ;;
      make)
        row make build "$n" "$(time_once make -j2 -s)"
        row make "noop check (make -q)" "$n" "$(time_median make -q)"
        row make "noop run" "$n" "$(time_median make -j2 -s)"
        echo "changed $(date +%s%N)" > src/5
        row make "rebuild 1 leaf" "$n" "$(time_once make -j2 -s)" ;;
      ninja)
        row ninja build "$n" "$(time_once ninja -j2)"
        row ninja "noop check (ninja -n)" "$n" "$(time_median ninja -n)"
        row ninja "noop run" "$n" "$(time_median ninja -j2)"
        echo "changed $(date +%s%N)" > src/5
        row ninja "rebuild 1 leaf" "$n" "$(time_once ninja -j2)" ;;
      floor)
        row "spawn floor" "build (xargs -P 2 per layer)" "$n" "$(time_once bash floor.sh)" ;;
      snakemake)
        [ -x "$PEERS_VENV/bin/snakemake" ] && [ "$n" -le 1000 ] || continue
        row snakemake build "$n" "$(LIMIT=300 time_once "$PEERS_VENV/bin/snakemake" --cores 2 -q)"
        row snakemake "noop check (-n)" "$n" "$(RUNS=3 time_median "$PEERS_VENV/bin/snakemake" -n -q)" ;;
      dvc)
        [ -x "$PEERS_VENV/bin/dvc" ] && [ "$n" -le 1000 ] || continue
        git init -q . && "$PEERS_VENV/bin/dvc" init -q
        # dvc repro is serial and quadratic here (>180 s at N=1000): adopt make's outputs instead.
        make -j2 -s > /dev/null
        row dvc "adopt (dvc commit -f)" "$n" "$(LIMIT=300 time_once "$PEERS_VENV/bin/dvc" commit -f -q)"
        row dvc "noop check (dvc status)" "$n" "$(RUNS=3 time_median "$PEERS_VENV/bin/dvc" status -q)" ;;
    esac
  done
done
