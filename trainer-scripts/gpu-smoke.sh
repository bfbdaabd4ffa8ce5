#!/usr/bin/env bash
# GPU smoke test of the pod path, offline, in minutes: bootstrap.sh (through its env contract: the
# machine's python, a no-op pip, local fakes of the gateway and RunPod, a local dataset server) runs
# train.py on a tiny model and on a ~0.5B-parameter random model built from a config (no download),
# for LORA, QLORA (only when bitsandbytes imports) and FULL, then prints a table: method, model,
# steps, seconds, peak GPU memory, final loss, result size, outcome.
#
#   bash trainer-scripts/gpu-smoke.sh          # on a GPU host with torch, transformers, peft, accelerate
#   bash trainer-scripts/gpu-smoke.sh --cpu    # the tiny model only, on CPU (the pod suite runs this)
#
# TRAINGATE_PYTHON [python3] is the python that has the libraries. Exits non-zero when a run that
# should complete does not.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
python=${TRAINGATE_PYTHON:-python3}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cd -- "$here"
exec "$python" -m tests_real.gpu_smoke "$@"
