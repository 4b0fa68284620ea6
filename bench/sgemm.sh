#!/bin/sh
# Builds bench/sgemm.swift against the COpenBLAS module of the package and runs it.
# Arguments: kernels to measure after the one OpenBLAS picks, e.g. `bench/sgemm.sh Cooperlake`.
set -eu
cd "$(dirname "$0")/.."
OUT=${TMPDIR:-/tmp}/flow-sgemm-bench
swiftc -O -I Sources/COpenBLAS $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
  $(pkg-config --libs openblas) bench/sgemm.swift -o "$OUT"
"$OUT" "$@"
