"""train.main() paths that need no ML library: a bad config or deadline exits 2 before any heavy
import, and a machine without torch fails with exit 1 naming the missing module. (Training itself is
tested against the real libraries in tests_real/, run by run-pod-tests.sh.)"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import unittest
from unittest import mock

import train


class MainWithoutLibrariesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tg-main-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.addCleanup(signal.signal, sig, signal.getsignal(sig))
        self.dataset = os.path.join(self.tmp, "train.jsonl")
        with open(self.dataset, "w") as handle:
            handle.write(json.dumps({"text": "hello"}) + "\n")

    def run_main(self, config, **extra):
        env = {
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(config).encode()).decode(),
            "TRAINGATE_WORKSPACE": self.tmp,
            "TRAINGATE_DATASET_PATH": self.dataset,
            **extra,
        }
        stderr = io.StringIO()
        # torch/transformers absent: an import of either would fail loudly.
        with mock.patch.dict(sys.modules, {"torch": None, "transformers": None}), contextlib.redirect_stderr(stderr):
            return train.main(env), stderr.getvalue()

    def config(self, **overrides):
        config = {"modelName": "meta-llama/Llama-3.2-1B", "datasetUrl": "https://data.example/train.jsonl"}
        config.update(overrides)
        return config

    def test_a_bad_config_or_deadline_exits_2_before_any_import(self) -> None:
        code, err = self.run_main(self.config(method="RLHF"))
        self.assertEqual(code, train.EXIT_CONFIG)
        self.assertIn("method must be one of LORA, QLORA, FULL", err)
        code, err = self.run_main(self.config(), BUDGET_DEADLINE="next tuesday")
        self.assertEqual(code, train.EXIT_CONFIG)
        self.assertIn("BUDGET_DEADLINE is not an ISO-8601 time", err)

    def test_quantized_training_under_torchrun_is_refused_before_any_import(self) -> None:
        code, err = self.run_main(self.config(method="QLORA"), WORLD_SIZE="4", RANK="1", LOCAL_RANK="1")
        self.assertEqual(code, train.EXIT_CONFIG)
        self.assertIn("WORLD_SIZE > 1", err)
        code, err = self.run_main(self.config(), WORLD_SIZE="2", RANK="2")
        self.assertEqual(code, train.EXIT_CONFIG)
        self.assertIn("RANK 2 is not below WORLD_SIZE 2", err)

    def test_missing_ml_libraries_fail_with_exit_1_naming_the_module(self) -> None:
        code, err = self.run_main(self.config())
        self.assertEqual(code, train.EXIT_FAILED)
        self.assertIn("training failed: ModuleNotFoundError", err)


class PureHelpersTest(unittest.TestCase):
    def test_hf_dataset_urls_follow_api_md(self) -> None:
        ok = ["hf://datasets/alice/chat", "hf://datasets/alice/chat/train.jsonl", "hf://datasets/a/b/dir/f.json@main"]
        for url in ok:
            self.assertEqual(train.parse_config({"modelName": "m", "datasetUrl": url}).dataset_url, url)
        for url in ("hf://alice/chat", "hf://datasets/alice", "ftp://x/y", "hf://datasets/alice/chat@"):
            with self.assertRaises(train.ConfigError):
                train.parse_config({"modelName": "m", "datasetUrl": url})

    def test_distributed_info_and_fused_experts(self) -> None:
        self.assertEqual(train.DistributedInfo.from_env({}), train.DistributedInfo(0, 0, 1))
        info = train.DistributedInfo.from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"})
        self.assertEqual((info.rank, info.local_rank, info.world_size, info.is_main), (3, 1, 4, False))
        self.assertTrue(train.has_fused_experts(["model.layers.0.mlp.experts.gate_up_proj"]))
        self.assertFalse(train.has_fused_experts(["model.layers.0.mlp.experts.0.w1.weight"]))

    def test_lora_targets_skip_a_vision_tower(self) -> None:
        modules = [("model.language_model.layers.0.self_attn.q_proj", None), ("model.vision_tower.encoder.layers.0.self_attn.q_proj", None)]
        pattern = train.lora_target_modules("gemma3", None, modules)
        import re  # noqa: PLC0415

        self.assertTrue(re.fullmatch(pattern, modules[0][0]))
        self.assertFalse(re.fullmatch(pattern, modules[1][0]))
        self.assertEqual(train.lora_target_modules("llama", None, modules[:1]), list(train.TARGET_MODULES["llama"]))

    def test_a_hub_refusal_is_recognised_through_the_exception_chain(self) -> None:
        class Response:
            status_code = 401

        class HubError(Exception):
            response = Response()

        try:
            try:
                raise HubError("401 Client Error")
            except HubError as inner:
                raise OSError("You are trying to access a gated repo.") from inner
        except OSError as outer:
            message = train.hub_access_problem(outer, "acme/x")
        self.assertIn("HTTP 401", message)
        self.assertIn("HUGGINGFACE token", message)
        self.assertIsNone(train.hub_access_problem(ValueError("boom"), "acme/x"))


if __name__ == "__main__":
    unittest.main()
