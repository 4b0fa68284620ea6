#!/usr/bin/env bash
# Computes what a clean run of the peer pipeline must produce, by running the scripts in order
# with no workflow tool: the yardstick compare.sh holds every tool's workspace against.
# usage: reference.sh DIR N "C1 C2 ..."   (DIR holds scripts/ and input/rows.csv)
set -euo pipefail
cd "$1"
n=$2
read -r -a cs <<< "$3"
python3 scripts/prep.py "$n" input/rows.csv data/shards
feats=()
for ((i = 0; i < n; i++)); do
  python3 scripts/features.py "data/shards/shard-$i.csv" "data/feat/shard-$i.csv"
  feats+=("data/feat/shard-$i.csv")
done
python3 scripts/join.py data/features.csv "${feats[@]}"
python3 scripts/split.py data/features.csv data/by_class
stats=()
for f in data/by_class/*.csv; do
  stem=$(basename "$f" .csv)
  python3 scripts/stats.py "$f" "data/stats/$stem.json"
  stats+=("data/stats/$stem.json")
done
metrics=()
for c in "${cs[@]}"; do
  python3 scripts/train.py "$c" data/features.csv "models/C-$c.json"
  python3 scripts/metrics.py "models/C-$c.json" data/features.csv "metrics/C-$c.json"
  metrics+=("metrics/C-$c.json")
done
python3 scripts/report.py report.md "${metrics[@]}" "${stats[@]}"
rm -f ran.txt
