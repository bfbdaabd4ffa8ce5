#!/usr/bin/env bash
# The real-library pod suite (npm run test:pod): train.py, bootstrap.sh's train path and gpu-smoke.sh
# with the pinned torch/transformers/peft/accelerate/datasets/bitsandbytes on tiny random-weight
# models, on CPU, offline. Creates or reuses the venv (pod-venv.sh) first. Arguments, if any, name
# tests (e.g. tests_real.test_families). The last line is "pod-suite: N passed, N failed".
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
python=$(bash "$here/pod-venv.sh")
cd -- "$here"
# Offline always; one or two threads (the machines have 2 cores, shared).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONDONTWRITEBYTECODE=1 PYTHONWARNINGS=ignore
"$python" - "$@" <<'PY'
import sys
import time
import unittest

start = time.monotonic()
loader = unittest.defaultTestLoader
names = sys.argv[1:]
suite = loader.loadTestsFromNames(names) if names else loader.discover("tests_real", top_level_dir=".")
result = unittest.TextTestRunner(verbosity=2, buffer=True).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
print(f"pod-suite: took {time.monotonic() - start:.1f}s")
if result.skipped:
    print(f"pod-suite: {len(result.skipped)} skipped tests are not allowed", file=sys.stderr)
    failed += len(result.skipped)
print(f"pod-suite: {passed} passed, {failed} failed")
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 and not result.skipped else 1)
PY
