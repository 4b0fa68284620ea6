#!/usr/bin/env bash
# Benchmark: pack 20,000 samples (3 KiB image + label) into shards of 1,000 and read them all
# back, with GNU tar, Python's webdataset and flow, side by side (hyperfine when installed).
#
#   swift build -c release --scratch-path .build-shards-rel --product flow
#   FLOW_BIN=$PWD/.build-shards-rel/release/flow bench/tar-shards.sh
#
# Env: FLOW_BIN (default .build/release/flow), FLOW_PYTHON (default .venv/bin/python, needs
# webdataset), BENCH_DIR (default /tmp/flowbench/tar-shards), N (samples, default 20000),
# RUNS (default 10). Results go to BENCH_DIR/results-*.md; copy the figures to bench/RESULTS-shards.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
FLOW=${FLOW_BIN:-$ROOT/.build/release/flow}
PY=${FLOW_PYTHON:-$ROOT/.venv/bin/python}
DIR=${BENCH_DIR:-/tmp/flowbench/tar-shards}
N=${N:-20000}
RUNS=${RUNS:-10}
H="$PY $HERE/tar_shards.py"

[ -x "$FLOW" ] || { echo "no flow binary at $FLOW (build it, or set FLOW_BIN)" >&2; exit 1; }
"$PY" -c 'import webdataset' || { echo "$PY cannot import webdataset (set FLOW_PYTHON)" >&2; exit 1; }
mkdir -p "$DIR"
cd "$DIR"
if [ ! -f data/.done-$N ]; then
    rm -rf data
    $H gen data "$N"
    touch data/.done-$N
fi
sync

# One-off runs to check that every tool produced the same samples.
rm -rf out-gnutar out-wds out-flow out-flow-lz4 && mkdir -p out-gnutar
for l in data/lists/*.txt; do tar -cf out-gnutar/$(basename $l .txt).tar -C data/src -T $l; done
$H write-wds data out-wds
"$FLOW" op pack data/src --out out-flow --per-shard 1000 >/dev/null
"$FLOW" op pack data/src --out out-flow-lz4 --per-shard 1000 --lz4 >/dev/null
echo "payload read back:"
echo "  gnu tar: $(for f in out-gnutar/*.tar; do tar -xOf $f; done | wc -c) bytes"
echo "  webdataset: $($H read-wds out-wds | tr '\n' ' ')"
echo "  flow: $("$FLOW" op shards info out-flow --json)"
echo "  flow lz4: $("$FLOW" op shards info out-flow-lz4 --json)"
echo "shard sizes: gnutar $(du -sb out-gnutar | cut -f1), wds $(du -sb out-wds | cut -f1), flow $(du -sb out-flow | cut -f1), flow lz4 $(du -sb out-flow-lz4 | cut -f1)"

if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs "$RUNS" --export-markdown results-write.md \
        --prepare 'rm -rf out-gnutar && mkdir -p out-gnutar' \
        -n 'gnu tar write' 'for l in data/lists/*.txt; do tar -cf out-gnutar/$(basename $l .txt).tar -C data/src -T $l; done' \
        --prepare 'rm -rf out-wds' \
        -n 'webdataset write' "$H write-wds data out-wds" \
        --prepare 'rm -rf out-flow' \
        -n 'flow pack' "$FLOW op pack data/src --out out-flow --per-shard 1000" \
        --prepare 'rm -rf out-flow-lz4' \
        -n 'flow pack --lz4' "$FLOW op pack data/src --out out-flow-lz4 --per-shard 1000 --lz4"
    hyperfine --warmup 1 --runs "$RUNS" --export-markdown results-read.md \
        -n 'gnu tar read' 'for f in out-gnutar/*.tar; do tar -xOf $f; done | wc -c' \
        -n 'webdataset read' "$H read-wds out-wds" \
        -n 'flow shards info' "$FLOW op shards info out-flow" \
        -n 'flow shards info (lz4)' "$FLOW op shards info out-flow-lz4"
    cat results-write.md results-read.md
else
    echo "hyperfine not installed: apt-get install -y hyperfine" >&2
    for i in $(seq "$RUNS"); do
        rm -rf out-gnutar && mkdir -p out-gnutar
        /usr/bin/time -f "gnu tar write %e s" bash -c 'for l in data/lists/*.txt; do tar -cf out-gnutar/$(basename $l .txt).tar -C data/src -T $l; done'
        rm -rf out-flow
        /usr/bin/time -f "flow pack %e s" "$FLOW" op pack data/src --out out-flow --per-shard 1000 >/dev/null
        /usr/bin/time -f "gnu tar read %e s" bash -c 'for f in out-gnutar/*.tar; do tar -xOf $f; done | wc -c' >/dev/null
        /usr/bin/time -f "flow read %e s" "$FLOW" op shards info out-flow >/dev/null
    done
fi
