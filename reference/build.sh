#!/bin/sh
# Builds reference/flow_side.swift against the release objects of FlowModels (as
# bench/train-diag.sh does) and prints the binary's path. Usage: reference/build.sh [OUT]
set -eu
cd "$(dirname "$0")/.."
B=${FLOW_REFERENCE_SCRATCH:-.build-reference}
OUT=${1:-$B/flow_side}
LOG=${TMPDIR:-/tmp}/flow-reference-build.log
swift build -c release --scratch-path $B --target FlowModels >"$LOG" 2>&1 || { tail -20 "$LOG" >&2; exit 1; }
R=$B/release
OBJS=$(ls $R/FlowModels.build/*.o $R/FlowNumerics.build/*.o $R/BLAS.build/*.o $R/FlowFormats.build/*.o \
  $R/Archive.build/*.o $R/LZ4.build/*.o $R/JPEG.build/*.o $R/PNG.build/*.o $R/CKernels.build/*.o 2>/dev/null)
CFLAGS=""
for m in COpenBLAS CArchive CLZ4 CTurboJPEG CPNG; do CFLAGS="$CFLAGS -I Sources/$m"; done
swiftc -O -I $R/Modules $CFLAGS -Xcc -fmodule-map-file=$R/CKernels.build/module.modulemap -Xcc -I -Xcc Sources/CKernels/include $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
  reference/flow_side.swift $OBJS -o "$OUT" \
  $(pkg-config --libs openblas libarchive liblz4 libturbojpeg libpng) >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; exit 1; }
echo "$OUT"
