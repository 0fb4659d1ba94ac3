#!/usr/bin/env bash
# Runs the test suite in the project venv (created on first use).
#   scripts/test.sh            fast suite (what CI runs)
#   scripts/test.sh --slow     only the tests marked slow (real default model, long jobs)
#   extra arguments go to pytest, e.g. scripts/test.sh -k kernels
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
marker="not slow"
if [ "${1:-}" = "--slow" ]; then marker="slow"; shift; fi
exec .venv/bin/python -m pytest -m "$marker" "$@"
