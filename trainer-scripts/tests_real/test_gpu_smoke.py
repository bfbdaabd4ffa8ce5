"""gpu-smoke.sh --cpu: the GPU smoke script's small variant, so that it keeps working between GPU runs.
It drives the real bootstrap.sh (no-op pip, local fakes) into train.py for LORA and FULL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

from tests_real import fixtures
from tests_real.base import RealTestCase


class GpuSmokeTest(RealTestCase):
    def test_gpu_smoke_cpu_variant_runs_bootstrap_to_completion_and_prints_the_table(self) -> None:
        report = os.path.join(self.tmp, "smoke.json")
        env = dict(os.environ, TRAINGATE_PYTHON=sys.executable, OMP_NUM_THREADS="1")
        done = subprocess.run(
            ["bash", os.path.join(fixtures.SCRIPTS, "gpu-smoke.sh"), "--cpu", f"--json={report}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240,
        )
        out = done.stdout.decode("utf-8", "replace")
        self.assertEqual(done.returncode, 0, out[-4000:])
        self.assertIn("| method | model      | steps | seconds | peak_gpu_gb | final_loss | result_mb | outcome   |", out)
        with open(report) as handle:
            results = json.load(handle)
        self.assertEqual([(r["method"], r["outcome"], r["steps"]) for r in results], [("LORA", "completed", 8), ("FULL", "completed", 8)])
        for result in results:
            self.assertIsInstance(result["final_loss"], float)
            self.assertGreater(result["result_mb"], 0)
            self.assertIsNone(result["peak_gpu_gb"])  # no GPU: no made-up figure


if __name__ == "__main__":
    unittest.main()
