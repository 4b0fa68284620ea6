#!/usr/bin/env bash
# 100 trivial steps as Slurm jobs: `flow run` with `executor slurm` against the same commands
# through plain `sbatch --wrap`, waiting for the queue to drain, on a local single-node Slurm
# (tests/slurm/start.sh; needs root, slurm-wlm and munge), in one run.
#
# usage: bench/slurm-bench.sh [N]        (default 100)
# env:   FLOW_BIN (default .build/release/flow), RUNS (default 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=${FLOW_BIN:-$here/../.build/release/flow}
N=${1:-100}
RUNS=${RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/flow-slurm-bench.XXXXXX")
chmod 755 "$work"   # munged runs as its own user and must reach its socket directory
export FLOW_SLURM_PORT=${FLOW_SLURM_PORT:-6930}
bash "$here/../tests/slurm/start.sh" "$work/slurm" > /dev/null
trap 'bash "$here/../tests/slurm/stop.sh" "$work/slurm" > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
export SLURM_CONF=$work/slurm/slurm.conf

drain() { while [ -n "$(squeue -h -o %i)" ]; do sleep 0.05; done; }
seconds() { local s; s=$(date +%s.%N); "$@" > /dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
median() { sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

flow_once() {
  local d=$work/flow-$1; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  for i in $(seq "$N"); do printf 'step s%d\n  out out/%d\n  executor slurm\n  run echo %d > {out}\n' "$i" "$i" "$i"; done > flow.dag
  seconds "$FLOW_BIN" run -q
}
sbatch_once() {
  local d=$work/sbatch-$1; rm -rf "$d"; mkdir -p "$d/out"; cd "$d"
  sbatch_all() { for i in $(seq "$N"); do sbatch -Q -o /dev/null --wrap "echo $i > out/$i"; done; drain; }
  seconds sbatch_all
}

echo "flow: $("$FLOW_BIN" --version)  slurm: $(sbatch --version)  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
flow_s=$(for r in $(seq "$RUNS"); do flow_once "$r"; done | median)
sbatch_s=$(for r in $(seq "$RUNS"); do sbatch_once "$r"; done | median)
printf '| %d jobs | flow run (executor slurm) | sbatch --wrap, queue drained | ratio |\n| --- | --- | --- | --- |\n' "$N"
printf '| wall s, median of %d | %.2f | %.2f | %.2f |\n' "$RUNS" "$flow_s" "$sbatch_s" "$(echo "$flow_s / $sbatch_s" | bc -l)"
