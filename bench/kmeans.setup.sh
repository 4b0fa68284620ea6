#!/bin/sh
# Creates the peer virtualenv for the numerics benchmarks OUTSIDE the repository:
# faiss-cpu and scikit-learn (with numpy), at /tmp/benchvenv unless BENCHVENV is set.
set -eu
VENV=${BENCHVENV:-/tmp/benchvenv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c 'import faiss, sklearn, numpy' 2>/dev/null || \
  "$VENV/bin/pip" install -q numpy faiss-cpu scikit-learn threadpoolctl
"$VENV/bin/python" -c 'import faiss, sklearn, numpy; print("faiss", faiss.__version__, "sklearn", sklearn.__version__, "numpy", numpy.__version__)'
