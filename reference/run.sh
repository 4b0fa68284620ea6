#!/bin/bash
# `make reference-check`: the virtualenv (reference/setup.sh), flow's side (reference/build.sh),
# then reference/check.py, which prints the results table and writes it to
# ${REFERENCE_RESULTS:-.build-reference/results.md}. See docs/reference-check.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOW_BIN=${FLOW_BIN:-.build/release/flow}
[ -x "$FLOW_BIN" ] || { echo "reference-check: no flow binary at $FLOW_BIN (run make build, or set FLOW_BIN)" >&2; exit 1; }
VENV=${REFERENCE_VENV:-.venv-ref}
bash reference/setup.sh "$VENV"
SIDE=$(sh reference/build.sh)
mkdir -p .build-reference
"$VENV/bin/python" -W ignore::FutureWarning reference/check.py --flow "$FLOW_BIN" --flow-side "$SIDE" \
  --out "${REFERENCE_RESULTS:-.build-reference/results.md}"
