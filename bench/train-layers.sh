#!/bin/sh
# Forward and backward time per ViT layer type (LayerNorm, Linear, attention, GELU MLP, block)
# and for a whole small ViT plus AdamW/clip/EMA, in release. Results go in
# bench/RESULTS-training.md by hand.
#
#   bench/train-layers.sh [ARCH] [SIDE] [BATCH]     (default vit-tiny, 112 px, batch 8; patch 14)
#
# FlowModels is not a library product, so this builds the package's release objects
# (scratch path .build-train-rel) and links bench/train_layers.swift against them with swiftc.
set -eu
cd "$(dirname "$0")/.."
ARCH=${1:-vit-tiny}; SIDE=${2:-112}; BATCH=${3:-8}
B=.build-train-rel
LOG=${TMPDIR:-/tmp}/flow-train-bench-build.log
swift build -c release --scratch-path $B --target FlowModels >"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
R=$B/release
OBJS=$(ls $R/FlowModels.build/*.o $R/FlowNumerics.build/*.o $R/BLAS.build/*.o $R/FlowFormats.build/*.o \
  $R/Archive.build/*.o $R/LZ4.build/*.o $R/JPEG.build/*.o $R/PNG.build/*.o 2>/dev/null)
OUT=${TMPDIR:-/tmp}/flow-train-layers
CFLAGS=""
for m in COpenBLAS CArchive CLZ4 CTurboJPEG CPNG; do CFLAGS="$CFLAGS -I Sources/$m"; done
swiftc -O -I $R/Modules $CFLAGS $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
  bench/train_layers.swift $OBJS -o "$OUT" \
  $(pkg-config --libs openblas libarchive liblz4 libturbojpeg libpng) >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
echo "== $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for t in 1 2; do "$OUT" "$t" "$ARCH" "$SIDE" "$BATCH"; echo; done
