#!/usr/bin/env bash
# `flow status` of one fan-out of N steps, from nothing (a fresh workspace: no state, no
# outputs), against the peers' dry runs of the same N commands: `ninja -n` on a build.ninja of N
# edges, and `snakemake -n` when bench/setup-peers.sh has installed it (N <= SNAKEMAKE_MAX).
#
#   step s[i in 0..<N]
#     out out/{i}
#     run echo {i} | cksum > {out}
#
# With INPUTS=1 every instance also reads its own source file (`in src/{i}`, written first), so
# that `flow status` hashes N files; the default has no inputs, as the earlier figures had.
#
# usage: bench/status-scale.sh [N...]      (default: 100000 1000000)
# env:   FLOW_BIN (default .build/release/flow), PEERS_VENV (default /tmp/flow-bench-peers),
#        WORK (default /tmp/flow-bench/status-scale), RUNS (default 1), INPUTS (default 0),
#        SNAKEMAKE_MAX (default 10000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=${FLOW_BIN:-$here/../.build/release/flow}
PEERS_VENV=${PEERS_VENV:-/tmp/flow-bench-peers}
WORK=${WORK:-/tmp/flow-bench/status-scale}
RUNS=${RUNS:-1}
INPUTS=${INPUTS:-0}
SNAKEMAKE_MAX=${SNAKEMAKE_MAX:-10000}
sizes=${*:-100000 1000000}

# "WALL CPU RSS": wall seconds, user+system CPU seconds, max resident set in MB (GNU time).
measure() {
  local f; f=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$f" timeout "${LIMIT:-900}" "$@" > /dev/null 2>&1 || echo "(failed or over limit: $*)" >&2
  awk '{printf "%.2f s | %.2f s | %.0f MB\n", $1, $2 + $3, $4 / 1024}' "$f"; rm -f "$f"
}
# The run with the median wall time out of RUNS, each from a fresh workspace (`fresh` is run first).
median() {
  local fresh=$1; shift
  for _ in $(seq "$RUNS"); do $fresh; measure "$@"; done | sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}

echo "flow: $("$FLOW_BIN" --version)  ninja: $(ninja --version)  inputs: $INPUTS"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | N | wall | CPU (user+sys) | max RSS |"
echo "| --- | --- | --- | --- | --- |"
for n in $sizes; do
  dir=$WORK/N$n
  rm -rf "$dir"; mkdir -p "$dir"
  cd "$dir"
  python3 - "$n" "$INPUTS" <<'PY'
import os, sys
n, inputs = int(sys.argv[1]), sys.argv[2] == "1"
if inputs:
    os.makedirs("src", exist_ok=True)
    for i in range(n):
        with open(f"src/{i}", "w") as f:
            f.write(f"{i}\n")
read = "  in src/{i}\n" if inputs else ""
command = "cat src/{i} | cksum > {out}" if inputs else "echo {i} | cksum > {out}"
with open("flow.dag", "w") as f:
    f.write(f"step s[i in 0..<{n}]\n{read}  out out/{{i}}\n  run {command}\n")
with open("build.ninja", "w") as f:
    f.write("rule cksum\n  command = " + ("cat $in" if inputs else "echo $i") + " | cksum > $out\n")
    for i in range(n):
        f.write(f"build out/{i}: cksum" + (f" src/{i}" if inputs else "") + f"\n  i = {i}\n")
with open("Snakefile", "w") as f:
    f.write(f"rule all:\n    input: expand('out/{{i}}', i=range({n}))\n\n")
    f.write("rule s:\n" + ("    input: 'src/{i}'\n" if inputs else "") + "    output: 'out/{i}'\n")
    f.write("    shell: '" + ("cat {input}" if inputs else "echo {wildcards.i}") + " | cksum > {output}'\n")
PY
  fresh_flow() { rm -rf .flow cache out; }
  fresh_ninja() { rm -f .ninja_log .ninja_deps; }
  fresh_snakemake() { rm -rf .snakemake; }
  echo "| flow status | $n | $(median fresh_flow "$FLOW_BIN" status) |"
  echo "| ninja -n | $n | $(median fresh_ninja ninja -n) |"
  if [ -x "$PEERS_VENV/bin/snakemake" ] && [ "$n" -le "$SNAKEMAKE_MAX" ]; then
    echo "| snakemake -n | $n | $(median fresh_snakemake "$PEERS_VENV/bin/snakemake" -n -q --cores 1) |"
  fi
done
