#!/usr/bin/env bash
# External data at scale: a directory of N small files outside the workspace, read by one step,
# declared with `external` in flow and as an absolute dependency in DVC (`dvc stage add -d
# /abs/dir`). Phases, on the same directory:
#
#   first   the first evaluation after the step ran: every file hashed (flow: `flow status` with an
#           empty stat cache; dvc: `dvc repro`, which hashes the dependency to run the stage)
#   noop    a no-op check: `flow status` (fresh snapshot: one stat per file) vs `dvc status`
#   full    flow's no-op without the snapshot (.flow/fresh removed): listing, one stat per file,
#           digests from the stat cache
#   edit    after one file is rewritten in place (same size): the check finds it
#
# usage: bench/external-data.sh [N]   (default 100000)
# env:   FLOW_BIN (default .build/release/flow), PEERS_VENV (default /tmp/flow-bench-peers; set
#        it empty to measure flow alone), RUNS (default 5), DATA_ROOT (default $TMPDIR; a tmpfs
#        such as /dev/shm spares the disk for N=1,000,000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=${FLOW_BIN:-$here/../.build/release/flow}
PEERS_VENV=${PEERS_VENV-/tmp/flow-bench-peers}
RUNS=${RUNS:-5}
n=${1:-100000}
root=${DATA_ROOT:-${TMPDIR:-/tmp}}/flow-bench-external
data=$root/data-$n
mkdir -p "$root"

# The data set: DIR/train/NNNN/NNNNNNN.bin, 1,000 files per directory, 1-5 KB each, distinct.
if [ ! -f "$data/.complete" ]; then
  rm -rf "$data"
  python3 - "$data" "$n" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
pool = os.urandom(1 << 22)
for i in range(n):
    d = f"{root}/train/{i // 1000:04d}"
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    size = 1024 + (i * 7919) % 4096
    off = (i * 104729) % (len(pool) - size)
    with open(f"{d}/{i:07d}.bin", "wb") as f:
        f.write(i.to_bytes(8, "little") + pool[off:off + size - 8])
EOF
  touch "$data/.complete"
fi
bytes=$(du -sb "$data/train" | cut -f1)
echo "data: $n files, $bytes bytes under $data/train ($(nproc) cores)"

# Wall and CPU seconds of one command: "wall cpu".
timed() {
  /usr/bin/time -o "$root/time.txt" -f "%e %U %S" "$@" > /dev/null 2>&1
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$root/time.txt"
}
# The median over RUNS runs of `timed`, running `before` (a function name or :) first each time.
median() {
  local before=$1; shift
  for _ in $(seq "$RUNS"); do $before; timed "$@"; done | sort -g | awk '{w[NR]=$1; c[NR]=$2} END {m=int((NR+1)/2); printf "%s %s\n", w[m], c[m]}'
}
row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$(echo "$3" | cut -d' ' -f1)" "$(echo "$3" | cut -d' ' -f2)"; }

# flow
ws=$root/flow-$n
rm -rf "$ws"; mkdir -p "$ws"
cat > "$ws/flow.dag" <<EOF
external data = $data
step count
  in  {data}/train/
  out n.txt
  run find {data}/train -type f | wc -l > {out}
EOF
cd "$ws"
"$FLOW_BIN" run -q > /dev/null
# An empty stat cache (the step's record kept): every file is hashed again.
python3 -c "import sqlite3; c = sqlite3.connect('.flow/state.db'); c.execute('DELETE FROM stat_cache'); c.commit()"
sleep 0.2
flow_first=$(timed "$FLOW_BIN" status)
"$FLOW_BIN" status > /dev/null             # writes the fresh snapshot
flow_noop=$(median : "$FLOW_BIN" status)
drop_snapshot() { rm -f .flow/fresh; }
flow_full=$(median drop_snapshot "$FLOW_BIN" status)
edit_one() {
  local f; f=$data/train/0000/0000007.bin
  python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-1]^=1; open(p,'r+b').write(b)" "$f"
}
edit_one
flow_edit=$(timed "$FLOW_BIN" status)
"$FLOW_BIN" status | grep -q "input changed: $data/train" || { echo "flow did not see the edit" >&2; exit 1; }
"$FLOW_BIN" run -q > /dev/null; "$FLOW_BIN" status > /dev/null

echo
echo "| tool | phase | wall s (median of $RUNS where repeated) | CPU s |"
echo "| --- | --- | --- | --- |"
row flow "first evaluation, every file hashed (\`flow status\`, empty stat cache)" "$flow_first"
row flow "no-op \`flow status\` (fresh snapshot)" "$flow_noop"
row flow "no-op \`flow status\` without the snapshot (stat cache)" "$flow_full"
row flow "\`flow status\` after one file edited in place" "$flow_edit"

# dvc
if [ -n "$PEERS_VENV" ] && [ -x "$PEERS_VENV/bin/dvc" ]; then
  dvc=$PEERS_VENV/bin/dvc
  dws=$root/dvc-$n
  rm -rf "$dws"; mkdir -p "$dws"; cd "$dws"
  git init -q; "$dvc" init -q
  "$dvc" stage add -q -n count -d "$data/train" -o n.txt "find $data/train -type f | wc -l > n.txt" > /dev/null
  dvc_first=$(timed "$dvc" repro -q)
  dvc_noop=$(median : "$dvc" status)
  edit_one
  dvc_edit=$(timed "$dvc" status)
  "$dvc" status | grep -q "changed deps" || { echo "dvc did not see the edit" >&2; exit 1; }
  "$dvc" repro -q > /dev/null
  row "dvc $("$dvc" --version)" "first evaluation (\`dvc repro\`: hash the dependency, run the stage)" "$dvc_first"
  row dvc "no-op \`dvc status\`" "$dvc_noop"
  row dvc "\`dvc status\` after one file edited in place" "$dvc_edit"
fi
