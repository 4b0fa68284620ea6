#!/usr/bin/env bash
# Installs the Python peers of the DAG benchmark (snakemake, dvc) in a virtualenv outside the repo.
set -euo pipefail
venv=${PEERS_VENV:-/tmp/flow-bench-peers}
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q snakemake dvc
command -v ninja > /dev/null || apt-get install -y -q ninja-build
command -v bc > /dev/null || apt-get install -y -q bc
echo "peers in $venv: snakemake $("$venv/bin/snakemake" --version), dvc $("$venv/bin/dvc" --version)"
