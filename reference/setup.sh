#!/bin/bash
# Creates the reference check's virtualenv (default .venv-ref/, git-ignored) with CPU PyTorch,
# NumPy, safetensors and the reference `dinov2` package. dinov2 0.0.1.dev2 pins an old torch
# and xformers; its modules import with a current torch without them, so it is installed
# without its dependencies. A CPU torch wheel in a PIP_FIND_LINKS folder is preferred; without
# one, PyPI's torch is installed (large: it brings the CUDA libraries, unused here).
set -euo pipefail
VENV=${1:-.venv-ref}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/pip"
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    wheel=""
    for dir in ${PIP_FIND_LINKS:-}; do
        for w in "$dir"/torch-*+cpu-*.whl; do [ -e "$w" ] && wheel=$w; done
    done
    if [ -n "$wheel" ]; then
        "$PIP" install --quiet "$wheel"
    else
        "$PIP" install --quiet torch
    fi
fi
"$PIP" install --quiet numpy safetensors
"$VENV/bin/python" -c 'import dinov2' 2>/dev/null || "$PIP" install --quiet --no-deps dinov2==0.0.1.dev2
"$VENV/bin/python" -c 'import torch, dinov2.models.vision_transformer, dinov2.loss; print("reference venv ready: torch", torch.__version__)'
