#!/bin/sh
# Training diagnostics (bench/train_diag.swift): class-token diversity, head logit spread,
# teacher/student entropies against ln K, the last layer's g, and the teacher's k-NN accuracy
# during a pretrain run, in release. Not part of `make test`.
#
#   bench/train-diag.sh TRAIN_DIR VAL_DIR [key=value ...]
#   keys: threads arch dim depth layerscale images local-crops local-size epochs batch lr momentum
#         prototypes hidden bottleneck koleo centering freeze warmup temp-warmup seed global-scale
#         every knn-every
# TRAIN_DIR and VAL_DIR hold synth-images shards (the class is read from each sample's .json).
set -eu
cd "$(dirname "$0")/.."
B=${FLOW_BENCH_SCRATCH:-.build-tdbg-rel}
LOG=${TMPDIR:-/tmp}/flow-train-diag-build.log
swift build -c release --scratch-path $B --target FlowModels >"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
R=$B/release
OBJS=$(ls $R/FlowModels.build/*.o $R/FlowNumerics.build/*.o $R/BLAS.build/*.o $R/FlowFormats.build/*.o \
  $R/Archive.build/*.o $R/LZ4.build/*.o $R/JPEG.build/*.o $R/PNG.build/*.o $R/CKernels.build/*.o 2>/dev/null)
OUT=${TMPDIR:-/tmp}/flow-train-diag
CFLAGS=""
for m in COpenBLAS CArchive CLZ4 CTurboJPEG CPNG; do CFLAGS="$CFLAGS -I Sources/$m"; done
swiftc -O -I $R/Modules $CFLAGS -Xcc -fmodule-map-file=$R/CKernels.build/module.modulemap -Xcc -I -Xcc Sources/CKernels/include $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
  bench/train_diag.swift $OBJS -o "$OUT" \
  $(pkg-config --libs openblas libarchive liblz4 libturbojpeg libpng) >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
"$OUT" "$@"
