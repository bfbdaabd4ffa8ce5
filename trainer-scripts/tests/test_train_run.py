"""train.main() end to end with fake torch/transformers/peft (tests/fake_ml.py) and a local gateway.

The GPU itself cannot be tested here; what is tested is everything train.py decides: config to
TrainingArguments, dataset to features, LoRA targets, quantization, metrics, stopping, resuming,
output layout and exit codes.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

import train
from tests import fake_ml
from tests.support import LocalServer, Reply, ScriptedGateway

TOKEN = "job-token"
ROWS = [
    {"instruction": "Add", "input": "2+2", "output": "4"},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
    {"text": "plain text row"},
] * 8  # 24 rows: 6 steps per epoch at batch size 4


def setUpModule() -> None:
    for name in ("traingate.train", "traingate.reporter"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class TrainRunTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tg-train-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.workspace = os.path.join(self.tmp, "workspace")
        os.makedirs(self.workspace)
        self.dataset = os.path.join(self.tmp, "train.jsonl")
        with open(self.dataset, "w") as handle:
            handle.write("\n".join(json.dumps(row) for row in ROWS) + "\n")
        self.gateway = ScriptedGateway(TOKEN)
        self.server = LocalServer(self.gateway)
        self.addCleanup(self.server.close)
        self.recorder = fake_ml.Recorder()
        self.model_config = {"model_type": "llama", "is_encoder_decoder": False}
        # main() installs SIGTERM/SIGINT handlers: put the test runner's back afterwards.
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            self.addCleanup(signal.signal, sig, signal.getsignal(sig))

    def config(self, **overrides):
        config = {
            "modelName": "meta-llama/Llama-3.2-1B",
            "datasetUrl": "https://data.example/train.jsonl",
            "method": "LORA",
            "hyperparameters": {"epochs": 2, "batchSize": 4, "loggingSteps": 2, "saveSteps": 4},
        }
        config.update(overrides)
        return config

    def run_main(self, config=None, **env_overrides) -> int:
        env = {
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(config or self.config()).encode()).decode(),
            "TRAINGATE_WORKSPACE": self.workspace,
            "TRAINGATE_DATASET_PATH": self.dataset,
            "METRICS_API_URL": f"{self.server.url}/api/training/jobs",
            "JOB_ID": "job-7",
            "JOB_TOKEN": TOKEN,
            "TRAINGATE_METRICS_CLOSE_SECONDS": "5",
        }
        env.update(env_overrides)
        modules = fake_ml.build(self.model_config, self.recorder)
        self.stderr = io.StringIO()
        with mock.patch.dict(sys.modules, modules), contextlib.redirect_stderr(self.stderr):
            return train.main(env)

    def run_dir(self, config=None) -> str:
        return os.path.join(self.workspace, "checkpoints", train.run_key(train.parse_config(config or self.config())))

    def output_files(self):
        return sorted(os.listdir(os.path.join(self.workspace, "output")))

    def test_a_lora_run_trains_reports_metrics_and_saves_adapter_and_tokenizer(self) -> None:
        self.assertEqual(self.run_main(), train.EXIT_OK)

        self.assertEqual(
            self.output_files(),
            ["adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json", "traingate_training.json"],
        )
        with open(os.path.join(self.workspace, "output", "traingate_training.json")) as handle:
            summary = json.load(handle)
        self.assertEqual((summary["global_step"], summary["stopped_early"], summary["method"]), (12, None, "LORA"))
        self.assertEqual(
            self.recorder.lora_config["target_modules"],
            ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        )
        self.assertEqual((self.recorder.lora_config["r"], self.recorder.lora_config["lora_alpha"]), (16, 32))
        self.assertFalse(self.recorder.kbit_prepared)
        self.assertEqual(self.recorder.from_pretrained_kwargs, {"dtype": "float32"})  # no GPU here: fp32

        args = self.recorder.training_args
        self.assertEqual(args.output_dir, self.run_dir())
        self.assertEqual((args.eval_strategy, args.optim, args.num_train_epochs), ("no", "adamw_torch", 2))
        trainer = self.recorder.trainer
        self.assertIsNone(trainer.resumed_from)
        self.assertEqual(trainer.processing_class.pad_token, "</s>")

        # Alpaca: the prompt (BOS + prompt text) is masked out of the loss; plain text is learnt whole.
        alpaca, _chat, text = trainer.train_dataset[:3]
        masked = 1 + len(train.format_row(ROWS[0]).prompt)
        self.assertEqual(alpaca["labels"][:masked], [-100] * masked)
        self.assertEqual(alpaca["labels"][masked:], [ord(c) % 250 + 3 for c in "4</s>"])
        self.assertNotIn(-100, text["labels"])

        steps = [p["step"] for p in self.gateway.accepted]
        self.assertEqual(steps, sorted(set(steps)))  # in order, each once
        self.assertEqual(steps, [1, 2, 4, 6, 8, 10, 12])
        self.assertEqual(self.gateway.accepted[-1]["progress"], 100.0)
        self.assertEqual(self.gateway.accepted[1]["loss"], 1.0)
        self.assertTrue(os.path.isdir(os.path.join(self.run_dir(), "checkpoint-12")))

    def test_a_gateway_stop_saves_a_checkpoint_and_exits_with_the_stopped_code(self) -> None:
        self.gateway.default = lambda: Reply(200, {"status": "ok", "accepted": 1, "stop": True})

        def wait_for_the_answer(trainer, step):
            # A real step takes seconds; here the loop would finish before the first answer.
            if step == 5:
                (reporter,) = [cb.reporter for cb in trainer.callbacks if hasattr(cb, "reporter")]
                self.assertTrue(reporter.stop_requested.wait(10))

        self.recorder.step_hook = wait_for_the_answer
        code = self.run_main(
            self.config(hyperparameters={"epochs": 50, "batchSize": 4, "loggingSteps": 1, "saveSteps": 1000}),
            TRAINGATE_METRICS_FLUSH_SECONDS="0.05",
        )
        self.assertEqual(code, train.EXIT_STOPPED)
        with open(os.path.join(self.workspace, train.STOP_MARKER)) as handle:
            marker = json.load(handle)
        self.assertIn("gateway", marker["reason"])
        run_dir = self.run_dir(self.config(hyperparameters={"epochs": 50, "batchSize": 4, "loggingSteps": 1, "saveSteps": 1000}))
        self.assertTrue(os.path.isfile(os.path.join(run_dir, f"checkpoint-{marker['step']}", "trainer_state.json")))
        self.assertEqual(marker["step"], 6)  # the step after the answer arrived, not the 300 planned
        self.assertIn("adapter_model.safetensors", self.output_files())  # the partial result is kept

    def test_a_restarted_run_resumes_from_the_newest_complete_checkpoint(self) -> None:
        for step, complete in ((4, True), (8, True), (10, False)):
            os.makedirs(os.path.join(self.run_dir(), f"checkpoint-{step}"))
            if complete:
                with open(os.path.join(self.run_dir(), f"checkpoint-{step}", "trainer_state.json"), "w") as handle:
                    handle.write("{}")
        self.assertEqual(self.run_main(), train.EXIT_OK)
        self.assertEqual(self.recorder.trainer.resumed_from, os.path.join(self.run_dir(), "checkpoint-8"))
        self.assertEqual([p["step"] for p in self.gateway.accepted], [10, 12])

    def test_qlora_loads_the_model_in_4_bit_nf4_and_uses_a_paged_optimizer(self) -> None:
        self.assertEqual(self.run_main(self.config(method="QLORA")), train.EXIT_OK)
        self.assertEqual(self.recorder.bnb_config["load_in_4bit"], True)
        self.assertEqual(self.recorder.bnb_config["bnb_4bit_quant_type"], "nf4")
        self.assertIn("device_map", self.recorder.from_pretrained_kwargs)
        self.assertTrue(self.recorder.kbit_prepared)
        self.assertEqual(self.recorder.training_args.optim, "paged_adamw_8bit")

    def test_an_architecture_outside_the_table_trains_its_linear_layers(self) -> None:
        self.model_config = {"model_type": "mamba", "is_encoder_decoder": False}
        self.assertEqual(self.run_main(), train.EXIT_OK)
        self.assertEqual(
            self.recorder.lora_config["target_modules"], ["in_proj", "k_proj", "o_proj", "out_proj", "q_proj", "v_proj"]
        )

    def test_a_deadline_already_near_stops_before_loading_anything(self) -> None:
        soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(self.run_main(BUDGET_DEADLINE=soon), train.EXIT_STOPPED)
        self.assertEqual(self.recorder.auto_config_calls, 0)
        with open(os.path.join(self.workspace, train.STOP_MARKER)) as handle:
            self.assertIn("deadline", json.load(handle)["reason"])

    def test_a_bad_dataset_exits_with_the_config_code(self) -> None:
        with open(self.dataset, "w") as handle:
            handle.write('{"question": "no known shape"}\n')
        self.assertEqual(self.run_main(), train.EXIT_CONFIG)
        self.assertIn("unrecognised dataset row", self.stderr.getvalue())

    def test_a_bad_config_or_deadline_exits_with_the_config_code_before_any_import(self) -> None:
        self.assertEqual(self.run_main(self.config(method="RLHF")), train.EXIT_CONFIG)
        self.assertIn("method must be one of LORA, QLORA, FULL", self.stderr.getvalue())
        self.assertEqual(self.run_main(BUDGET_DEADLINE="next tuesday"), train.EXIT_CONFIG)
        self.assertIn("BUDGET_DEADLINE is not an ISO-8601 time", self.stderr.getvalue())
        self.assertEqual(self.recorder.auto_config_calls, 0)

    def test_missing_ml_libraries_fail_with_exit_1(self) -> None:
        env = {
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(self.config()).encode()).decode(),
            "TRAINGATE_WORKSPACE": self.workspace,
            "TRAINGATE_DATASET_PATH": self.dataset,
        }
        stderr = io.StringIO()
        with mock.patch.dict(sys.modules, {"torch": None}), contextlib.redirect_stderr(stderr):
            self.assertEqual(train.main(env), train.EXIT_FAILED)
        self.assertIn("training failed: ModuleNotFoundError", stderr.getvalue())


if __name__ == "__main__":
    unittest.main()
