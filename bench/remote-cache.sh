#!/usr/bin/env bash
# The remote cache's transfer speed, side by side in one run against one nginx on 127.0.0.1
# (tests/nginx/start.sh): `flow pull` of a cached pipeline's results, against `dvc pull` of the
# same files from a DVC HTTP remote on that server, and against `curl --parallel --parallel-max 16`
# of the very objects flow stored there (the loopback limit). Then the no-op `flow run` with and
# without a remote.
#
# Cases (random bytes from /dev/urandom, so nothing compresses):
#   small   one step whose directory output holds 10,000 files of 4,096 bytes
#   large   one step writing 2 files of 200,000,000 bytes
#
# usage: bench/remote-cache.sh [small|large...]       (default: small large)
# env:   FLOW_BIN (default .build/release/flow), PEERS_VENV (dvc, from bench/setup-peers.sh; default
#        /tmp/flow-bench-peers; the dvc rows are left out without it), RUNS (timed runs of each
#        transfer, default 3), NOOP_RUNS (default 10), WORK (default a new directory from mktemp,
#        removed at the end unless KEEP=1), DROP_CACHES (1: drop the page cache before every timed
#        transfer, the default when /proc/sys/vm/drop_caches is writable; 0: warm cache).
#
# Every timed transfer starts from a fresh clone: flow's gets flow.dag only (no cache/, no .flow/),
# dvc's gets .dvc/config and the .dvc files (no cache), curl's an empty directory. Its result is
# checked against the source files afterwards, untimed. Rows print "median (min-max)" of wall
# seconds (with about 2 ms of fork and exec around the command), and the median run's CPU seconds
# (user+system, with children; GNU time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=$(realpath "${FLOW_BIN:-$here/../.build/release/flow}")
PEERS_VENV=${PEERS_VENV:-/tmp/flow-bench-peers}
RUNS=${RUNS:-3}
NOOP_RUNS=${NOOP_RUNS:-10}
cases=${*:-small large}
unset FLOW_REMOTE FLOW_CACHE FLOW_REMOTE_TOKEN FLOW_REMOTE_USER FLOW_REMOTE_PASSWORD
if [ -z "${DROP_CACHES:-}" ]; then
  DROP_CACHES=0; [ -w /proc/sys/vm/drop_caches ] && DROP_CACHES=1
fi
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/flow-remote-bench.XXXXXX")}
mkdir -p "$WORK/logs"
DVC=$PEERS_VENV/bin/dvc
[ -x "$DVC" ] || { echo "no dvc in $PEERS_VENV (bash bench/setup-peers.sh): dvc rows left out" >&2; DVC=; }

# nginx, stopped on every exit.
cleanup() {
  bash "$here/../tests/nginx/stop.sh" "$WORK/nginx"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
URL=$(bash "$here/../tests/nginx/start.sh" "$WORK/nginx" | sed -n 's/^url=//p')
ROOT=$WORK/nginx/root

drop_caches() {
  [ "$DROP_CACHES" = 1 ] || return 0
  sync; echo 3 > /proc/sys/vm/drop_caches
}

# timed LOG DIR COMMAND...: runs COMMAND in DIR (page cache dropped first) and prints "WALL CPU".
# A failing command stops the benchmark: its time would mean nothing.
timed() {
  local log=$1 dir=$2; shift 2
  local t start end; t=$(mktemp)
  drop_caches
  start=$EPOCHREALTIME
  if ! (cd "$dir" && /usr/bin/time -f "%e %U %S" -o "$t" "$@" > "$log" 2>&1); then
    echo "failed: (cd $dir && $*); its output:" >&2; cat "$log" >&2; exit 1
  fi
  end=$EPOCHREALTIME
  # Wall time from bash's clock (GNU time's has 10 ms steps), CPU time from GNU time.
  awk -v s="$start" -v e="$end" '{printf "%.3f %.3f\n", e - s, $2 + $3}' "$t"; rm -f "$t"
}

# Timings by "case|what", one "WALL CPU" line per run.
declare -A times
record() { times[$1]+="$2"$'\n'; }
# "median min max cpu-of-median" of the runs recorded under $1.
summary() {
  printf '%s' "${times[$1]}" | sort -g | awk '{w[NR]=$1; c[NR]=$2} END {m=int((NR+1)/2); print w[m], w[1], w[NR], c[m]}'
}
median() { summary "$1" | cut -d' ' -f1; }

# tree_sum DIR: the bytes of the case's data files under DIR ($outs, leaving out dvc's own files),
# in name order: what every clone must hold.
tree_sum() {
  (cd "$1" && find $outs -type f ! -name '*.dvc' ! -name .gitignore -print0 | LC_ALL=C sort -z | xargs -0 cat | cksum)
}

for c in $cases; do
  case $c in
    small) outs="small"; make="mkdir -p small && head -c 40960000 /dev/urandom | split -b 4096 -a 4 -d - small/f"
           objects=10000 bytes=40960000 ;;
    large) outs="large/a.bin large/b.bin"
           make="mkdir -p large && head -c 200000000 /dev/urandom > large/a.bin && head -c 200000000 /dev/urandom > large/b.bin"
           objects=2 bytes=400000000 ;;
    *) echo "unknown case $c (small or large)" >&2; exit 64 ;;
  esac
  W=$WORK/$c
  mkdir -p "$W/src" "$W/dvc-src"
  # flow's side: the pipeline, computed once and uploaded by `flow push`.
  dagouts=$(for o in $outs; do [ "$o" = small ] && echo "  out small/" || echo "  out $o"; done)
  printf 'step gen\n%s\n  run %s\n' "$dagouts" "$make" > "$W/src/flow.dag"
  (cd "$W/src" && "$FLOW_BIN" run -q > "$WORK/logs/$c-gen.log" 2>&1)
  expected=$(tree_sum "$W/src")
  record "$c|flow push" "$(timed "$WORK/logs/$c-flow-push.log" "$W/src" "$FLOW_BIN" push --remote "$URL/$c/flow")"
  # curl's side: every file flow stored on the server (objects and manifest: what a pull moves).
  (cd "$ROOT/$c/flow" && find cas ac -type f) | awk -v u="$URL/$c/flow" '{o=$0; gsub("/", "-", o); printf "url = \"%s/%s\"\noutput = \"%s\"\n", u, $0, o}' > "$W/curl.cfg"
  stored=$(find "$ROOT/$c/flow" -type f | wc -l)
  # dvc's side: the same files, added and pushed to the same nginx.
  if [ -n "$DVC" ]; then
    (cd "$W/src" && cp -r --parents $outs "$W/dvc-src/")
    (cd "$W/dvc-src" && "$DVC" init -q --no-scm && "$DVC" remote add -q -d r "$URL/$c/dvc" \
      && "$DVC" remote modify r method PUT && "$DVC" add -q $outs) > "$WORK/logs/$c-dvc-add.log" 2>&1
    record "$c|dvc push" "$(timed "$WORK/logs/$c-dvc-push.log" "$W/dvc-src" "$DVC" push -q)"
  fi

  for i in $(seq "$RUNS"); do
    # Alternating tools, so that a noisy moment hits one run of each rather than all of one.
    d=$W/curl-$i; mkdir -p "$d"
    record "$c|curl" "$(timed "$WORK/logs/$c-curl-$i.log" "$d" curl --parallel --parallel-max 16 -s -f -K "$W/curl.cfg")"
    [ "$(find "$d" -type f | wc -l)" = "$stored" ] || { echo "curl got $(find "$d" -type f | wc -l) of $stored files" >&2; exit 1; }
    rm -rf "$d"

    for cmd in pull run; do
      d=$W/flow-$cmd-$i; mkdir -p "$d"; cp "$W/src/flow.dag" "$d/"
      if [ $cmd = pull ]; then
        record "$c|flow pull" "$(timed "$WORK/logs/$c-flow-pull-$i.log" "$d" "$FLOW_BIN" pull --remote "$URL/$c/flow")"
      else
        record "$c|flow run" "$(timed "$WORK/logs/$c-flow-run-$i.log" "$d" "$FLOW_BIN" run -q --remote "$URL/$c/flow")"
      fi
      [ "$(tree_sum "$d")" = "$expected" ] || { echo "flow $cmd restored other bytes ($d)" >&2; exit 1; }
      rm -rf "$d"
    done

    if [ -n "$DVC" ]; then
      d=$W/dvc-$i; mkdir -p "$d"
      (cd "$W/dvc-src" && cp --parents .dvc/config .dvcignore $(find . -type f -name '*.dvc' ! -path './.dvc/*') "$d/")
      record "$c|dvc pull" "$(timed "$WORK/logs/$c-dvc-pull-$i.log" "$d" "$DVC" pull -q)"
      [ "$(tree_sum "$d")" = "$expected" ] || { echo "dvc pull restored other bytes ($d)" >&2; exit 1; }
      rm -rf "$d"
    fi
  done

  # The no-op run (everything fresh), warm cache: without a remote, then with one, alternating.
  for _ in $(seq "$NOOP_RUNS"); do
    record "$c|noop" "$(DROP_CACHES=0 timed "$WORK/logs/$c-noop.log" "$W/src" "$FLOW_BIN" run -q)"
    record "$c|noop remote" "$(DROP_CACHES=0 timed "$WORK/logs/$c-noop-remote.log" "$W/src" "$FLOW_BIN" run -q --remote "$URL/$c/flow")"
  done
  eval "objects_$c=$objects bytes_$c=$bytes stored_$c=$stored"
done

echo "flow: $("$FLOW_BIN" --version)  dvc: ${DVC:+$("$DVC" --version)}  $(nginx -v 2>&1)  $(curl --version | head -1 | cut -d' ' -f1-2)"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "page cache dropped before each transfer: $([ "$DROP_CACHES" = 1 ] && echo yes || echo no)"
echo
echo "| case | command | wall s, median (min-max) of $RUNS | CPU s | MB/s | / curl | dvc / this |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in $cases; do
  eval "objects=\$objects_$c bytes=\$bytes_$c stored=\$stored_$c"
  curl_med=$(median "$c|curl")
  dvc_med=$([ -n "${times[$c|dvc pull]:-}" ] && median "$c|dvc pull" || echo)
  for what in "curl" "flow pull" "flow run" "dvc pull" "flow push" "dvc push"; do
    [ -n "${times[$c|$what]:-}" ] || continue
    read -r med lo hi cpu <<< "$(summary "$c|$what")"
    n=$(printf '%s' "${times[$c|$what]}" | grep -c .)
    label=$what
    case $what in
      curl) label="curl --parallel --parallel-max 16 ($stored files)" ;;
      "flow run") label="flow run --remote (fresh clone)" ;;
      "flow push"|"dvc push") label="$what (once)" ;;
    esac
    rate=$(awk -v b="$bytes" -v s="$med" 'BEGIN {printf "%.0f", b / 1e6 / s}')
    vs_curl=$(awk -v a="$med" -v b="$curl_med" 'BEGIN {printf "%.2f", a / b}')
    dvc_vs="-"
    case $what in "flow pull"|"flow run") [ -n "$dvc_med" ] && dvc_vs=$(awk -v a="$dvc_med" -v b="$med" 'BEGIN {printf "%.2f", a / b}') ;; esac
    case $what in *push*) vs_curl="-" ;; esac
    if [ "$n" -gt 1 ]; then w="$med ($lo-$hi)"; else w=$med; fi
    echo "| $c: $objects x $((bytes / objects)) B | $label | $w | $cpu | $rate | $vs_curl | $dvc_vs |"
  done
done
echo
echo "| case | no-op \`flow run\` (warm) | wall s, median (min-max) of $NOOP_RUNS | CPU s |"
echo "| --- | --- | --- | --- |"
for c in $cases; do
  for what in "noop" "noop remote"; do
    read -r med lo hi cpu <<< "$(summary "$c|$what")"
    label="flow run -q"; [ "$what" = "noop remote" ] && label="flow run -q --remote URL"
    echo "| $c | $label | $med ($lo-$hi) | $cpu |"
  done
done
