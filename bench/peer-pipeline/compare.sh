#!/usr/bin/env bash
# Runs the peer pipeline (pipeline.dag, Snakefile, dvc.yaml) through a series of edits and
# prints, for each edit and each tool: which steps executed (every script appends its name
# to ran.txt), which results the tool restored from its cache, the wall time, what the tool's
# own status command says afterwards, and whether the outputs equal a clean run of the final
# sources (reference.sh, no tool involved): "same", or the files that differ, are missing, or
# are left over from an earlier state.
#
# usage: compare.sh [SCENARIO...]      (default: all; KEEP=1 keeps the scratch directories)
# env:   FLOW_BIN (default flow), SNAKEMAKE (snakemake), DVC (dvc), TOOLS ("flow snakemake dvc")
set -euo pipefail

FLOW_BIN=${FLOW_BIN:-flow}
SNAKEMAKE=${SNAKEMAKE:-snakemake}
DVC=${DVC:-dvc}
TOOLS=${TOOLS:-flow snakemake dvc}
ALL="noop comment shard n-fewer n-more sweep-add sweep-remove revert delete-output \
split-shrink split-grow fresh-clone"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/peer-pipeline.XXXXXX")
[ "${KEEP:-0}" = 1 ] && echo "scratch: $work" || trap 'rm -rf "$work"' EXIT

# The defaults every scenario starts from; edits change these, and the reference follows them.
ROWS=60 CLASSES=3 N=4 CS="0.01 0.1 1"

# sources TOOL DIR: the files a clone of the project holds for TOOL, with the default params.
sources() {
  mkdir -p "$2/input"
  cp -r "$here/scripts" "$2/"
  case $1 in
    flow) cp "$here/pipeline.dag" "$2/" ;;
    snakemake) cp "$here/Snakefile" "$here/config.yaml" "$2/" ;;
    dvc) cp "$here/dvc.yaml" "$here/params.yaml" "$2/"; (cd "$2" && "$DVC" init -q --no-scm) ;;
  esac
  python3 "$2/scripts/gen_input.py" "$2/input/rows.csv" "$ROWS" "$CLASSES"
}

# set_params TOOL DIR N "C1 C2 ...": writes n and the sweep where TOOL keeps them.
set_params() {
  local cs_comma cs_yaml shards
  cs_comma=$(echo "$4" | sed 's/ /, /g')
  cs_yaml="[$cs_comma]"
  shards="[$(seq -s ', ' 0 $(($3 - 1)))]"
  case $1 in
    flow) sed -i -e "s/^let n  = .*/let n  = $3/" -e "s/^let Cs = .*/let Cs = $cs_comma/" \
      "$2/pipeline.dag" ;;
    snakemake) sed -i -e "s/^n: .*/n: $3/" -e "s/^Cs: .*/Cs: $cs_yaml/" "$2/config.yaml" ;;
    dvc) sed -i -e "s/^n: .*/n: $3/" -e "s/^shards: .*/shards: $shards/" -e "s/^Cs: .*/Cs: $cs_yaml/" \
      "$2/params.yaml" ;;
  esac
}

# run_tool TOOL DIR: one run, output in DIR/.tool.log; ran.txt starts empty.
run_tool() {
  local rc=0
  rm -f "$2/ran.txt"
  case $1 in
    flow) (cd "$2" && "$FLOW_BIN" run pipeline.dag) > "$2/.tool.log" 2>&1 || rc=$? ;;
    snakemake) (cd "$2" && "$SNAKEMAKE" -c1) > "$2/.tool.log" 2>&1 || rc=$? ;;
    dvc) (cd "$2" && "$DVC" repro) > "$2/.tool.log" 2>&1 || rc=$? ;;
  esac
  return $rc
}

# restored TOOL DIR: the steps the last run brought back from a cache instead of running them.
restored() {
  case $1 in
    flow) grep -o '\] restored [^ ]*' "$2/.tool.log" | sed 's/.*restored //' | tr '\n' ' ' ;;
    dvc) grep -o "Stage '[^']*' is cached" "$2/.tool.log" | cut -d"'" -f2 | tr '\n' ' ' ;;
    snakemake) ;;
  esac
}

# predict TOOL DIR: what the tool's dry run says it will do, before the run.
predict() {
  case $1 in
    flow) (cd "$2" && "$FLOW_BIN" run -n pipeline.dag 2>&1) | tail -1 | sed 's/^flow: //' ;;
    snakemake) (cd "$2" && "$SNAKEMAKE" -n -c1 2>&1) \
      | awk '/^total/ && !found { print $2 " jobs"; found = 1 } END { if (!found) print "nothing to be done" }' ;;
    dvc) (cd "$2" && "$DVC" repro --dry 2>&1) \
      | awk '/^Running stage/ { n++ } /^ERROR/ { err = 1 }
             END { printf "%d stages%s\n", n, err ? ", then it stops with an error" : "" }' ;;
  esac
}

# verdict TOOL DIR: what the tool's own status command says now.
verdict() {
  case $1 in
    flow) if (cd "$2" && "$FLOW_BIN" status --check pipeline.dag > /dev/null 2>&1); then
        echo "up to date"
      else
        echo "stale: $(cd "$2" && "$FLOW_BIN" status pipeline.dag 2>&1 | tail -1)"
      fi ;;
    snakemake) if (cd "$2" && "$SNAKEMAKE" -n -c1 2>&1) | grep -q 'Nothing to be done'; then
        echo "up to date"
      else
        echo "stale: $((cd "$2" && "$SNAKEMAKE" -n -c1 2>&1) | grep -c '^rule ') jobs to run"
      fi ;;
    dvc) if (cd "$2" && "$DVC" status 2>&1) | grep -q 'up to date'; then
        echo "up to date"
      else
        echo "stale: $((cd "$2" && "$DVC" status 2>&1) | grep -c '^[a-z].*:$') stages changed"
      fi ;;
  esac
}

# reference N "CS" ROWS.csv: a clean tool-free run for these sources; prints its directory.
reference() {
  local key dir
  key=$( (echo "$1 $2"; cat "$3") | md5sum | cut -c1-12)
  dir=$work/ref-$key
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir/input"
    cp -r "$here/scripts" "$dir/"
    cp "$3" "$dir/input/rows.csv"
    "$here/reference.sh" "$dir" "$1" "$2" > /dev/null
  fi
  echo "$dir"
}

# compare DIR REF: "same" or what differs in the pipeline's outputs.
compare() {
  local a b out="" f
  a=$(cd "$1" && find data models metrics report.md -type f ! -name '.snakemake*' 2> /dev/null | sort)
  b=$(cd "$2" && find data models metrics report.md -type f 2> /dev/null | sort)
  for f in $(comm -12 <(echo "$a") <(echo "$b")); do
    cmp -s "$1/$f" "$2/$f" || out+=" differs:$f"
  done
  for f in $(comm -23 <(echo "$a") <(echo "$b")); do out+=" left-over:$f"; done
  for f in $(comm -13 <(echo "$a") <(echo "$b")); do out+=" missing:$f"; done
  echo "${out:- same}"
}

# ran_list DIR: the executed steps, in the order they ran.
ran_list() {
  [ -s "$1/ran.txt" ] || { echo "(nothing)"; return; }
  echo "$(wc -l < "$1/ran.txt"): $(sed 's/\.csv//; s/shard-/s/; s/class-/k/' "$1/ran.txt" | paste -sd, | sed 's/,/, /g')"
}

# Edits. Each runs in workspace $ws of tool $tool, after the baseline run; it may run the
# tool itself (revert), move $ws (fresh-clone), and must leave N, CS and rows.csv as the final
# state the reference is computed from.
edit_noop() { :; }
edit_comment() { echo "# a comment, nothing else" >> "$ws/scripts/features.py"; }
edit_shard() {
  # id 7 lives in shard 7 % 4 = 3: only that shard's content changes.
  awk -F, -v OFS=, 'NR == 9 { $2 = "9.9999" } 1' "$ws/input/rows.csv" > "$ws/rows.tmp"
  mv "$ws/rows.tmp" "$ws/input/rows.csv"
}
edit_n-fewer() { N=3; set_params "$tool" "$ws" "$N" "$CS"; }
edit_n-more() { N=5; set_params "$tool" "$ws" "$N" "$CS"; }
edit_sweep-add() { CS="0.01 0.1 1 10"; set_params "$tool" "$ws" "$N" "$CS"; }
edit_sweep-remove() { CS="0.01 0.1"; set_params "$tool" "$ws" "$N" "$CS"; }
edit_revert() {
  set_params "$tool" "$ws" 3 "$CS"
  run_tool "$tool" "$ws" || true
  echo "    (n=3 in between: ran $(ran_list "$ws"))"
  set_params "$tool" "$ws" "$N" "$CS"
}
edit_delete-output() { rm "$ws/data/features.csv"; }
edit_split-shrink() { CLASSES=2; python3 "$ws/scripts/gen_input.py" "$ws/input/rows.csv" "$ROWS" "$CLASSES"; }
edit_split-grow() { CLASSES=4; python3 "$ws/scripts/gen_input.py" "$ws/input/rows.csv" "$ROWS" "$CLASSES"; }
edit_fresh-clone() {
  # A clone holds the sources (and, for DVC, the committed dvc.lock); the cache is shared.
  local clone=$work/clone-$tool
  rm -rf "$clone"
  sources "$tool" "$clone"
  case $tool in
    flow) export FLOW_CACHE=$ws/cache ;;
    dvc) cp "$ws/dvc.lock" "$clone/"; (cd "$clone" && "$DVC" cache dir "$ws/.dvc/cache") ;;
    snakemake) ;;
  esac
  ws=$clone
}

describe() {
  case $1 in
    noop) echo "nothing changed" ;;
    comment) echo "a comment appended to scripts/features.py" ;;
    shard) echo "one value of the source table changed (row 7, which lands in shard 3)" ;;
    n-fewer) echo "n 4 -> 3 shards" ;;
    n-more) echo "n 4 -> 5 shards" ;;
    sweep-add) echo "C = 0.01, 0.1, 1 -> 0.01, 0.1, 1, 10" ;;
    sweep-remove) echo "C = 0.01, 0.1, 1 -> 0.01, 0.1" ;;
    revert) echo "n 4 -> 3, run, then back to 4 (the second run is measured)" ;;
    delete-output) echo "data/features.csv deleted" ;;
    split-shrink) echo "the source table now has 2 classes instead of 3" ;;
    split-grow) echo "the source table now has 4 classes instead of 3" ;;
    fresh-clone) echo "a fresh clone of the sources, sharing the first workspace's cache" ;;
  esac
}

echo "flow $("$FLOW_BIN" --version 2>&1 | head -1), snakemake $("$SNAKEMAKE" --version 2>&1 | tail -1)," \
  "dvc $("$DVC" --version 2>&1 | tail -1)"
for tool in $TOOLS; do
  sources "$tool" "$work/base-$tool"
  start=$(date +%s.%N)
  run_tool "$tool" "$work/base-$tool" || { echo "$tool: first run failed:"; tail "$work/base-$tool/.tool.log"; exit 1; }
  printf '%-10s first run: %s (%.1f s)\n' "$tool" "$(ran_list "$work/base-$tool")" \
    "$(echo "$(date +%s.%N) - $start" | bc)"
done

for scenario in ${@:-$ALL}; do
  echo
  echo "== $scenario: $(describe "$scenario")"
  for tool in $TOOLS; do
    (
      ROWS=60 CLASSES=3 N=4 CS="0.01 0.1 1"
      ws=$work/$scenario-$tool
      rm -rf "$ws"
      cp -a "$work/base-$tool" "$ws"
      "edit_$scenario"
      guess=$(predict "$tool" "$ws" || true)
      start=$(date +%s.%N)
      rc=0
      run_tool "$tool" "$ws" || rc=$?
      secs=$(echo "$(date +%s.%N) - $start" | bc)
      printf '%-10s exit %d, %.1f s, ran %s\n' "$tool" "$rc" "$secs" "$(ran_list "$ws")"
      echo "           dry run before: $guess"
      r=$(restored "$tool" "$ws" || true)
      [ -z "$r" ] || echo "           restored: $r"
      [ "$rc" = 0 ] || { echo "           last lines:"; tail -5 "$ws/.tool.log" | sed 's/^/             /'; }
      echo "           then: $(verdict "$tool" "$ws")"
      echo "           vs a clean run:$(compare "$ws" "$(reference "$N" "$CS" "$ws/input/rows.csv")")"
    )
  done
done
