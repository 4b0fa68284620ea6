#!/bin/bash
# flow's own CPU per step in a build, two binaries alternating (bench/RESULTS.md, sixth pass).
#
#   bash bench/own-cpu.sh OLD_FLOW NEW_FLOW [RUNS] [DIR...]
#
# For each directory (default: /tmp and /dev/shm, i.e. ext4 and tmpfs here) and each run, a fresh
# copy of the 1,000-step DAG of bench/dag_gen.py is built with `flow run -j2 -q` by OLD_FLOW, then
# by NEW_FLOW. One line per build: the file system, which binary, the task-clock of flow's own
# thread in ms (perf stat --no-inherit), then wall, user and system seconds of everything
# (/usr/bin/time), and the load average when it started. Then, once per binary on the first
# directory, the files created during a build (strace: openat with O_CREAT, renames, links).
# Each binary needs its flow-supervisor beside it.
set -eu
OLD=$1 NEW=$2 RUNS=${3:-4}
shift 2; [ $# -gt 0 ] && shift
DIRS=("$@"); [ ${#DIRS[@]} -gt 0 ] || DIRS=(/tmp /dev/shm)
HERE=$(cd "$(dirname "$0")" && pwd)
TEMPLATE=$(mktemp -d)
trap 'rm -rf "$TEMPLATE"' EXIT
python3 "$HERE/dag_gen.py" 1000 "$TEMPLATE/dag" > /dev/null

fresh_copy() {
  local d=$1/flow-own-cpu-$$
  rm -rf "$d"; cp -r "$TEMPLATE/dag" "$d"; echo "$d"
}

for fs in "${DIRS[@]}"; do
  for _ in $(seq 1 "$RUNS"); do
    for which in old new; do
      bin=$OLD; [ $which = new ] && bin=$NEW
      d=$(fresh_copy "$fs")
      load=$(cut -d' ' -f1 /proc/loadavg)
      (cd "$d" && /usr/bin/time -f "%e %U %S" -o time.txt \
        perf stat --no-inherit -e task-clock -x, -o perf.txt "$bin" run -j2 -q > /dev/null)
      echo "$fs $which $(grep task-clock "$d/perf.txt" | cut -d, -f1 | cut -d. -f1) $(cat "$d/time.txt") load=$load"
      rm -rf "$d"
    done
  done
done

for which in old new; do
  bin=$OLD; [ $which = new ] && bin=$NEW
  d=$(fresh_copy "${DIRS[0]}")
  (cd "$d" && strace -f -qq -o trace.txt -e trace=openat,rename,renameat2,link "$bin" run -j2 -q > /dev/null)
  ok() { grep -v '= -1' "$d/trace.txt"; }
  echo "$which: O_CREAT $(ok | grep -c O_CREAT) (in the cache $(ok | grep O_CREAT | grep -c "$d/cache/")," \
       "renames $(ok | grep -cE 'rename(at2)?\('), links $(ok | grep -cE '^[0-9]+ +link\(');" \
       "objects $(find "$d/cache/objects" -type f | wc -l), manifests $(find "$d/cache/actions" -type f | wc -l)"
  rm -rf "$d"
done
