#!/usr/bin/env bash
# Start-up and no-op times at millisecond resolution (dag-bench.sh's GNU time rounds to 10 ms):
# `flow --version`, `flow status --check` and a no-op `flow run` against `ninja -n`, `ninja` and
# `make -q` on the same up-to-date layered DAG, median of REPEAT runs each, in one run.
#
# usage: bench/noop-bench.sh [N]        (default 1000 steps)
# env:   FLOW_BIN (default .build/release/flow), REPEAT (default 40), WORK (default /tmp/flow-bench/noop)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=${FLOW_BIN:-$here/../.build/release/flow}
N=${1:-1000}
REPEAT=${REPEAT:-40}
WORK=${WORK:-/tmp/flow-bench/noop}

for tool in flow ninja make; do
  rm -rf "$WORK/$tool"; mkdir -p "$WORK/$tool"
  python3 "$here/dag_gen.py" "$N" "$WORK/$tool"
done
(cd "$WORK/flow" && "$FLOW_BIN" run -j2 -q > /dev/null && sleep 0.2 && "$FLOW_BIN" status --check > /dev/null)
(cd "$WORK/ninja" && ninja -j2 > /dev/null)
(cd "$WORK/make" && make -j2 -s > /dev/null)

echo "flow: $("$FLOW_BIN" --version)  ninja: $(ninja --version)  $(make --version | head -1)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); flow links $(ldd "$FLOW_BIN" | wc -l) shared libraries"
echo
python3 - "$FLOW_BIN" "$WORK" "$REPEAT" <<'PY'
import subprocess, sys, time
flow, work, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
def median_ms(argv, cwd):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1e3
rows = [
    ("start-up", [flow, "--version"], "flow", None),
    ("no-op check", [flow, "status", "--check"], "flow", ["ninja", "-n"]),
    ("no-op run", [flow, "run", "-j2"], "flow", ["ninja", "-j2"]),
]
print("| phase | flow ms | ninja ms | make ms | flow / ninja |")
print("| --- | --- | --- | --- | --- |")
for name, argv, d, ninja in rows:
    f = median_ms(argv, f"{work}/{d}")
    if ninja is None:
        print(f"| {name} (`flow --version`) | {f:.1f} | | | |")
        continue
    n = median_ms(ninja, f"{work}/ninja")
    m = median_ms(["make", "-q"] if name == "no-op check" else ["make", "-j2", "-s"], f"{work}/make")
    print(f"| {name} | {f:.1f} | {n:.1f} | {m:.1f} | {f / n:.2f} |")
PY
