#!/usr/bin/env bash
# File hashing throughput: `flow hash` (XXH3-128, the digest flow's cache uses) against
# `xxhsum -H2` and `b3sum`/`sha256sum` where installed, on the same file from the page cache.
#
# usage: bench/hash.sh [SIZE_MIB]   (default 2048); env FLOW_BIN, RUNS (default 10)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLOW_BIN=${FLOW_BIN:-$here/../.build/release/flow}
RUNS=${RUNS:-10}
size=${1:-2048}
dir=/tmp/flow-bench/hash
mkdir -p "$dir"
blob=$dir/blob-$size.bin
[ -f "$blob" ] || head -c $((size * 1024 * 1024)) /dev/urandom > "$blob"
cat "$blob" > /dev/null; cat "$blob" > /dev/null

median() {
  local times=()
  for _ in $(seq "$RUNS"); do
    local t0; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; times+=("$(echo "$(date +%s.%N) - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
bytes=$((size * 1024 * 1024))
echo "| tool | command | median s ($RUNS runs) | GB/s |"
echo "| --- | --- | --- | --- |"
for spec in "flow:$FLOW_BIN hash" "xxhsum XXH128:xxhsum -H2" "b3sum:b3sum" "sha256sum:sha256sum"; do
  name=${spec%%:*}; cmd=${spec#*:}
  command -v ${cmd%% *} > /dev/null || continue
  s=$(median $cmd "$blob")
  printf '| %s | `%s` | %s | %.2f |\n' "$name" "$cmd blob" "$s" "$(echo "$bytes / $s / 1000000000" | bc -l)"
done
[ "$("$FLOW_BIN" hash "$blob" | cut -d' ' -f1)" = "$(xxhsum -H2 "$blob" | cut -d' ' -f1)" ] && echo && echo "digests agree: flow hash = xxhsum -H2"
