"""train.py under torchrun: two CPU processes (gloo), DDP on a tiny llama. Only rank 0 reports
metrics and writes output/; both ranks stop at the same step when the gateway asks rank 0."""

from __future__ import annotations

import json
import os
import sys
import unittest

from tests.support import LocalServer, Reply, ScriptedGateway
from tests_real import fixtures
from tests_real.base import TOKEN, RealTestCase

import train


class TorchrunTest(RealTestCase):
    def torchrun(self, config, gateway):
        server = LocalServer(gateway)
        self.addCleanup(server.close)
        env = self.env(
            config,
            METRICS_API_URL=f"{server.url}/api/training/jobs",
            JOB_ID="job-ddp",
            JOB_TOKEN=TOKEN,
            TRAINGATE_METRICS_FLUSH_SECONDS="0.05",
            TRAINGATE_SPOOL_DIR=os.path.join(self.tmp, "spool"),
            ACCELERATE_USE_CPU="1",
        )
        argv = [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
            "--master_port=0", "--rdzv_backend=c10d", "--rdzv_endpoint=127.0.0.1:0", fixtures.TRAIN_PY,
        ]
        return fixtures.run_train(env, timeout=120, argv=argv)

    def test_two_processes_train_once_report_from_rank_0_only_and_write_output_once(self) -> None:
        gateway = ScriptedGateway(TOKEN)
        self.write_dataset(fixtures.mixed_rows(8))
        config = fixtures.job_config(fixtures.model_dir("llama"), batchSize=2)
        code, out = self.torchrun(config, gateway)
        self.assertEqual(code, train.EXIT_OK, out[-4000:])
        self.assertNotIn("terminate called", out)  # every rank left the process group before exiting
        self.assertEqual(out.count("traingate: training finished after 2 steps"), 2)  # 8 rows / (2 x 2 ranks)
        steps = [p["step"] for p in gateway.accepted]
        self.assertEqual(steps, [1, 2])  # one point per step: rank 1 sent nothing
        self.assertEqual(self.summary()["world_size"], 2)
        self.assertTrue(os.path.isfile(self.output("adapter_model.safetensors")))
        self.assertFalse(os.path.exists(self.output() + ".tmp"))

    def test_a_stop_seen_by_rank_0_stops_both_ranks_at_one_step_with_exit_3(self) -> None:
        gateway = ScriptedGateway(TOKEN)
        gateway.default = lambda: Reply(200, {"status": "ok", "accepted": 1, "stop": True})
        self.write_dataset(fixtures.mixed_rows(8))
        config = fixtures.job_config(fixtures.model_dir("llama"), batchSize=2, epochs=300)
        code, out = self.torchrun(config, gateway)
        # torchrun turns any non-zero exit of a rank into its own exit 1, and names the rank's code:
        # the stop marker, written by rank 0, is what tells a stop from a failure under torchrun.
        self.assertEqual(code, 1, out[-4000:])
        self.assertRegex(out, r"exitcode\s*:\s*3\b")
        with open(os.path.join(self.workspace, train.STOP_MARKER)) as handle:
            marker = json.load(handle)
        self.assertIn("gateway", marker["reason"])
        self.assertEqual(out.count(f"stopped early at step {marker['step']}"), 2, out[-3000:])
        checkpoint = os.path.join(self.run_dir(config), f"checkpoint-{marker['step']}")
        self.assertTrue(os.path.isfile(os.path.join(checkpoint, "trainer_state.json")))


if __name__ == "__main__":
    unittest.main()
