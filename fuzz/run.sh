#!/usr/bin/env bash
# Builds the fuzz targets (debug, with libFuzzer and AddressSanitizer) and fuzzes one of them.
#
#   fuzz/run.sh TARGET [SECONDS]      TARGET: npy, safetensors, dag (see Package.swift)
#
# Starts from the committed seed corpus fuzz/corpus/TARGET/ (read only) plus a working corpus
# in fuzz/artifacts/corpus-TARGET/ where libFuzzer keeps what it finds; crashes, hangs (> 10 s
# per input) and out-of-memory inputs go to fuzz/artifacts/TARGET/. Extra arguments after
# SECONDS are passed to libFuzzer. Exit status is libFuzzer's: 0 when nothing was found.
# Reproduce a crash with: fuzz/.build/debug/fuzz-TARGET fuzz/artifacts/TARGET/crash-...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target=${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer args...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
cd "$here"
if [ ! -d "Sources/fuzz-$target" ]; then
    echo "unknown fuzz target '$target'; have: $(ls Sources | sed -n 's/^fuzz-//p' | tr '\n' ' ')" >&2
    exit 64
fi
swift build --product "fuzz-$target" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
mkdir -p "artifacts/$target" "artifacts/corpus-$target" "corpus/$target"
dict=()
[ -f "dicts/$target.dict" ] && dict=(-dict="dicts/$target.dict")
# Without SWIFT_BACKTRACE=enable=no a crash starts the Swift backtracer inside ASan and hangs.
export SWIFT_BACKTRACE=enable=no
exec ".build/debug/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 "${dict[@]}" "$@" \
    "artifacts/corpus-$target" "corpus/$target"
