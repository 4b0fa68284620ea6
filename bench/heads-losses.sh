#!/bin/sh
# Time of the DINO head (forward + backward), the teacher targets, the DINO, iBOT and KoLeo
# losses and the block masks for one training batch, in release. Results go in
# bench/RESULTS-training.md by hand.
#
#   bench/heads-losses.sh [DIM] [BATCH] [GRID] [LOCAL_CROPS]   (default 384, 16, 16, 8)
#
# FlowModels is not a library product, so this builds the release objects (scratch path
# .build-heads-rel) and links bench/heads_losses.swift against them with swiftc.
set -eu
cd "$(dirname "$0")/.."
DIM=${1:-384}; BATCH=${2:-16}; GRID=${3:-16}; LOCALS=${4:-8}
B=.build-heads-rel
LOG=${TMPDIR:-/tmp}/flow-heads-bench-build.log
swift build -c release --scratch-path $B --target FlowModels >"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
R=$B/release
OBJS=$(ls $R/FlowModels.build/*.o $R/FlowNumerics.build/*.o $R/BLAS.build/*.o $R/FlowFormats.build/*.o \
  $R/Archive.build/*.o $R/LZ4.build/*.o $R/JPEG.build/*.o $R/PNG.build/*.o 2>/dev/null)
OUT=${TMPDIR:-/tmp}/flow-heads-losses
CFLAGS=""
for m in COpenBLAS CArchive CLZ4 CTurboJPEG CPNG; do CFLAGS="$CFLAGS -I Sources/$m"; done
swiftc -O -I $R/Modules $CFLAGS $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
  bench/heads_losses.swift $OBJS -o "$OUT" \
  $(pkg-config --libs openblas libarchive liblz4 libturbojpeg libpng) >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
echo "== $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
"$OUT" "$DIM" "$BATCH" "$GRID" "$LOCALS"
