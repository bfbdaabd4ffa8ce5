"""The pure parts of train.py: config, architectures, dataset rows, deadline, checkpoints, args."""

from __future__ import annotations

import base64
import datetime as dt
import glob
import json
import logging
import os
import shutil
import tempfile
import threading
import types
import unittest

import train

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "model-configs")
UTC = dt.timezone.utc


def setUpModule() -> None:
    logging.getLogger("traingate.train").setLevel(logging.CRITICAL)


def minimal(**overrides):
    raw = {"modelName": "meta-llama/Llama-3.2-1B", "datasetUrl": "https://data.example/train.jsonl"}
    raw.update(overrides)
    return raw


class ConfigTest(unittest.TestCase):
    def test_defaults_follow_the_api_contract(self) -> None:
        cfg = train.parse_config(minimal())
        hp = cfg.hyperparameters
        self.assertEqual(cfg.method, "LORA")
        self.assertEqual(
            (hp.epochs, hp.batch_size, hp.gradient_accumulation_steps, hp.learning_rate, hp.max_seq_length),
            (1, 4, 1, 0.0002, 2048),
        )
        self.assertEqual((hp.warmup_ratio, hp.logging_steps, hp.save_steps), (0.03, 10, 200))
        self.assertEqual((hp.lora_r, hp.lora_alpha, hp.lora_dropout, hp.target_modules), (16, 32, 0.05, None))
        self.assertEqual((hp.quantization, hp.gradient_checkpointing, hp.eval_split), ("NONE", True, 0.0))
        self.assertEqual(cfg.output, train.OutputSpec(None, True, None, "TERMINATE", True))
        self.assertIsNone(cfg.quantization_bits)

    def test_given_values_and_nulls(self) -> None:
        cfg = train.parse_config(
            minimal(
                method="QLORA",
                hyperparameters={"epochs": 3, "learningRate": 1e-4, "targetModules": ["q_proj", "v_proj"], "evalSplit": 0.1, "loraR": None},
                output={"hubRepoId": "alice/x", "hubPrivate": False, "networkVolumeId": None, "onComplete": None},
            )
        )
        self.assertEqual(cfg.hyperparameters.epochs, 3)
        self.assertEqual(cfg.hyperparameters.lora_r, 16)  # null means default
        self.assertEqual(cfg.hyperparameters.target_modules, ("q_proj", "v_proj"))
        self.assertEqual(cfg.quantization_bits, 4)  # QLoRA is 4-bit
        self.assertEqual(cfg.output, train.OutputSpec("alice/x", False, None, "TERMINATE", False))

    def test_a_result_with_nowhere_else_to_go_goes_to_the_gateway_and_the_pod_is_terminated(self) -> None:
        cases = [
            ({"networkVolumeId": "vol1"}, ("TERMINATE", False)),
            ({"hubRepoId": "a/b"}, ("TERMINATE", False)),
            ({"hubRepoId": "a/b", "gateway": True}, ("TERMINATE", True)),
            ({}, ("TERMINATE", True)),
            ({"gateway": False, "onComplete": "STOP"}, ("STOP", False)),
        ]
        for output, expected in cases:
            with self.subTest(output=output):
                out = train.parse_config(minimal(output=output)).output
                self.assertEqual((out.on_complete, out.gateway), expected)
        with self.assertRaises(train.ConfigError) as caught:
            train.parse_config(minimal(output={"gateway": "yes"}))
        self.assertIn("output.gateway must be a boolean", str(caught.exception))

    def test_quantization_bits(self) -> None:
        cases = [("LORA", "NONE", None), ("LORA", "INT8", 8), ("LORA", "INT4", 4), ("QLORA", "NONE", 4), ("QLORA", "INT8", 8)]
        for method, quantization, bits in cases:
            with self.subTest(method=method, quantization=quantization):
                cfg = train.parse_config(minimal(method=method, hyperparameters={"quantization": quantization}))
                self.assertEqual(cfg.quantization_bits, bits)

    def test_every_problem_is_reported_at_once(self) -> None:
        with self.assertRaises(train.ConfigError) as caught:
            train.parse_config(
                {
                    "modelName": "",
                    "datasetUrl": "file:///etc/passwd",
                    "method": "DPO",
                    "hyperparameters": {
                        "epochs": 0,
                        "batchSize": float("inf"),
                        "learningRate": "fast",
                        "evalSplit": 1.0,
                        "targetModules": "q_proj",
                    },
                    "output": {"onComplete": "PAUSE"},
                }
            )
        message = str(caught.exception)
        for fragment in ["modelName", "datasetUrl", "method", "epochs", "batchSize", "learningRate", "evalSplit", "targetModules", "onComplete"]:
            self.assertIn(fragment, message)

    def test_full_fine_tuning_of_a_quantized_model_is_refused(self) -> None:
        with self.assertRaisesRegex(train.ConfigError, "FULL"):
            train.parse_config(minimal(method="FULL", hyperparameters={"quantization": "INT4"}))

    def test_load_config_from_base64_or_file(self) -> None:
        raw = minimal(modelName='we"ird\n$(touch /tmp/x) `id`')
        encoded = base64.b64encode(json.dumps(raw).encode()).decode()
        self.assertEqual(train.load_config({"TRAINGATE_CONFIG_B64": encoded}).model_name, raw["modelName"])
        wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))  # as `base64` prints it
        self.assertEqual(train.load_config({"TRAINGATE_CONFIG_B64": wrapped}).model_name, raw["modelName"])
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(raw, handle)
        self.addCleanup(os.remove, handle.name)
        self.assertEqual(train.load_config({"TRAINGATE_CONFIG_FILE": handle.name}).model_name, raw["modelName"])
        for env in [{}, {"TRAINGATE_CONFIG_B64": "not base64!"}, {"TRAINGATE_CONFIG_B64": base64.b64encode(b"[1]").decode()}]:
            with self.subTest(env=env), self.assertRaises(train.ConfigError):
                train.load_config(env)

    def test_run_key_separates_different_jobs_and_is_stable(self) -> None:
        a = train.parse_config(minimal())
        self.assertEqual(train.run_key(a), train.run_key(train.parse_config(minimal())))
        self.assertNotEqual(train.run_key(a), train.run_key(train.parse_config(minimal(hyperparameters={"loraR": 8}))))
        self.assertNotEqual(train.run_key(a), train.run_key(train.parse_config(minimal(modelName="gpt2"))))


class Linear:  # named like torch.nn.Linear: the generic fallback looks at class names
    pass


class Conv1D:
    pass


class LayerNorm:
    pass


class ArchitectureTest(unittest.TestCase):
    EXPECTED = {
        "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "mixtral": ["q_proj", "k_proj", "v_proj", "o_proj", "w1", "w2", "w3"],
        "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "gemma": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "gemma2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "gemma3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "gemma3_text": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
        "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
        "gpt2": ["c_attn", "c_proj", "c_fc"],
        "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
        "falcon": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
        "t5": ["q", "k", "v", "o", "wi", "wi_0", "wi_1", "wo"],
        "bert": ["query", "key", "value", "dense"],
    }
    KINDS = {"t5": "seq2seq", "bert": "masked"}

    def test_every_fixture_config_maps_to_its_target_modules_and_model_kind(self) -> None:
        paths = sorted(glob.glob(os.path.join(FIXTURES, "*.json")))
        self.assertGreaterEqual(len(paths), 16)
        seen = set()
        for path in paths:
            with open(path) as handle:
                config = json.load(handle)
            model_type = config["model_type"]
            with self.subTest(config=os.path.basename(path)):
                kind = train.model_kind(model_type, bool(config.get("is_encoder_decoder")))
                if model_type not in self.EXPECTED:
                    with self.assertRaisesRegex(train.UnknownArchitecture, "targetModules"):
                        train.detect_target_modules(model_type)
                    continue
                seen.add(model_type)
                self.assertEqual(train.detect_target_modules(model_type), self.EXPECTED[model_type])
                self.assertEqual(kind, self.KINDS.get(model_type, "causal"))
        self.assertEqual(seen, set(self.EXPECTED))

    def test_target_modules_from_the_config_win(self) -> None:
        self.assertEqual(train.detect_target_modules("llama", ["q_proj"]), ["q_proj"])
        self.assertEqual(train.detect_target_modules("mamba", ("in_proj", "out_proj")), ["in_proj", "out_proj"])

    def test_unknown_architecture_falls_back_to_its_linear_layers_without_heads(self) -> None:
        modules = [
            ("", object()),
            ("backbone.layers.0.mixer.in_proj", Linear()),
            ("backbone.layers.0.mixer.out_proj", Linear()),
            ("backbone.layers.1.mixer.in_proj", Linear()),
            ("backbone.layers.0.mixer.conv1d", Conv1D()),
            ("backbone.layers.0.norm", LayerNorm()),
            ("backbone.experts.0", Linear()),
            ("lm_head", Linear()),
        ]
        self.assertEqual(train.detect_target_modules("mamba", None, modules), ["conv1d", "in_proj", "out_proj"])
        with self.assertRaises(train.UnknownArchitecture):
            train.detect_target_modules("mamba", None, [("lm_head", Linear()), ("norm", LayerNorm())])


class DatasetTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tg-data-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def test_alpaca_rows_with_and_without_input(self) -> None:
        with_input = train.format_row({"instruction": "Translate", "input": "Hallo", "output": "Hello"}, eos_token="</s>")
        self.assertEqual(with_input.prompt, "### Instruction:\nTranslate\n\n### Input:\nHallo\n\n### Response:\n")
        self.assertEqual(with_input.completion, "Hello</s>")
        without = train.format_row({"instruction": "Say hi", "input": "", "output": "hi"})
        self.assertEqual(without.text, "### Instruction:\nSay hi\n\n### Response:\nhi")
        self.assertEqual(without.shape, "alpaca")

    def test_chat_rows_use_the_tokenizer_template_and_train_on_the_last_answer(self) -> None:
        def template(messages, add_generation_prompt):
            text = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in messages)
            return text + ("<|assistant|>" if add_generation_prompt else "")

        row = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
        example = train.format_row(row, template)
        self.assertEqual(example.prompt, "<|user|>2+2?<|end|><|assistant|>")
        self.assertEqual(example.completion, "4<|end|>")
        self.assertTrue(example.templated)

    def test_chat_rows_without_a_template_or_with_a_failing_one_use_a_plain_layout(self) -> None:
        row = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
        expected_prompt = "### System:\nBe brief.\n\n### User:\nHi\n\n### Assistant:\n"
        plain = train.format_row(row, None, eos_token="<eos>")
        self.assertEqual((plain.prompt, plain.completion), (expected_prompt, "Hello<eos>"))

        def refusing(messages, add_generation_prompt):
            raise ValueError("System role not supported")

        self.assertEqual(train.format_row(row, refusing, eos_token="<eos>").prompt, expected_prompt)

    def test_text_rows_are_trained_whole(self) -> None:
        example = train.format_row({"text": "Once upon a time"}, eos_token="</s>")
        self.assertEqual((example.prompt, example.completion, example.shape), ("", "Once upon a time</s>", "text"))

    def test_rows_of_unknown_shape_are_a_config_error(self) -> None:
        for row in [{"question": "q", "answer": "a"}, {"messages": [{"role": "user"}]}, {"messages": []}]:
            with self.subTest(row=row), self.assertRaises(train.ConfigError):
                train.format_row(row)

    def test_reads_json_jsonl_and_wrapped_json(self) -> None:
        rows = [{"text": "a"}, {"text": "b"}]
        self.assertEqual(train.read_dataset(self.write("a.json", json.dumps(rows))), rows)
        self.assertEqual(train.read_dataset(self.write("b.json", json.dumps({"data": rows}))), rows)
        self.assertEqual(train.read_dataset(self.write("c.jsonl", '{"text": "a"}\n\n{"text": "b"}\n')), rows)
        self.assertEqual(train.read_dataset(self.write("d.jsonl", '\ufeff{"text": "a"}\n')), [{"text": "a"}])

    def test_broken_datasets_name_the_problem(self) -> None:
        cases = {
            "empty.jsonl": ("", "empty"),
            "bad.jsonl": ('{"text": "a"}\n{"text": \n', "line 2"),
            "scalar.json": ("[1, 2]", "row 1"),
        }
        for name, (text, fragment) in cases.items():
            with self.subTest(name=name), self.assertRaisesRegex(train.ConfigError, fragment):
                train.read_dataset(self.write(name, text))

    def test_eval_split_is_deterministic_and_never_empties_training(self) -> None:
        rows = list(range(100))
        train_rows, eval_rows = train.split_rows(rows, 0.1)
        self.assertEqual((len(train_rows), len(eval_rows)), (90, 10))
        self.assertEqual(sorted(train_rows + eval_rows), rows)
        self.assertEqual(train.split_rows(rows, 0.1), (train_rows, eval_rows))
        self.assertEqual(train.split_rows(rows, 0.0), (rows, []))
        self.assertEqual([len(part) for part in train.split_rows([1, 2], 0.9)], [1, 1])
        self.assertEqual(train.split_rows([1], 0.5), ([1], []))

    def test_causal_features_mask_the_prompt_and_truncate(self) -> None:
        feature = train.causal_features([1, 2, 3], [4, 5], max_length=10)
        self.assertEqual(feature, {"input_ids": [1, 2, 3, 4, 5], "attention_mask": [1] * 5, "labels": [-100, -100, -100, 4, 5]})
        self.assertEqual(train.causal_features([1, 2, 3], [4, 5], max_length=4)["labels"], [-100, -100, -100, 4])
        self.assertIsNone(train.causal_features([1, 2, 3], [4, 5], max_length=3))


class DeadlineTest(unittest.TestCase):
    def test_parses_utc_offsets_and_naive_times(self) -> None:
        expected = dt.datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
        self.assertEqual(train.parse_deadline("2026-11-28T21:00:00Z"), expected)
        self.assertEqual(train.parse_deadline("2026-11-28T22:00:00+01:00"), expected)
        self.assertEqual(train.parse_deadline("2026-11-28T21:00:00"), expected)
        self.assertIsNone(train.parse_deadline(""))
        self.assertIsNone(train.parse_deadline(None))
        with self.assertRaises(train.ConfigError):
            train.parse_deadline("tomorrow")

    def test_stop_margin_covers_one_step_and_two_saves(self) -> None:
        self.assertEqual(train.stop_margin_seconds(None, None), 120.0)
        self.assertEqual(train.stop_margin_seconds(30.0, 10.0), 120.0)
        self.assertEqual(train.stop_margin_seconds(100.0, 20.0), 220.0)

    def test_deadline_reached(self) -> None:
        deadline = dt.datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
        at = lambda minutes: deadline - dt.timedelta(minutes=minutes)  # noqa: E731
        self.assertFalse(train.deadline_reached(None, at(0)))
        self.assertFalse(train.deadline_reached(deadline, at(10)))
        self.assertTrue(train.deadline_reached(deadline, at(2)))
        self.assertTrue(train.deadline_reached(deadline, at(-5)))
        self.assertTrue(train.deadline_reached(deadline, at(4), save_seconds=120.0))  # 2 saves = 4 min

    def test_stop_controller_reasons(self) -> None:
        deadline = dt.datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
        now = [deadline - dt.timedelta(hours=1)]
        event = threading.Event()
        controller = train.StopController(deadline, event, now=lambda: now[0])
        self.assertIsNone(controller.reason())
        self.assertIsNone(controller.cause)
        now[0] = deadline - dt.timedelta(seconds=60)
        self.assertIn("deadline", controller.reason())
        # The trainer's own decision: the one stop with a cause the gateway records.
        self.assertEqual(controller.cause, "budget_deadline")
        now[0] = deadline - dt.timedelta(hours=1)
        event.set()
        self.assertIn("gateway", controller.reason())
        self.assertIsNone(controller.cause)
        controller.request("received SIGTERM")
        self.assertEqual(controller.reason(), "received SIGTERM")
        self.assertIsNone(controller.cause)

    def test_stop_callback_and_marker_keep_a_deadline_stops_cause(self) -> None:
        deadline = dt.datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
        controller = train.StopController(deadline, threading.Event(), now=lambda: deadline)
        callback = train.StopCallbackMixin(controller, clock=lambda: 0.0)
        control = types.SimpleNamespace(should_save=False, should_training_stop=False)
        callback.on_step_end(None, types.SimpleNamespace(global_step=12), control)
        self.assertEqual((callback.stopped_step, callback.stopped_cause), (12, "budget_deadline"))
        with tempfile.TemporaryDirectory() as folder:
            marker = os.path.join(folder, train.STOP_MARKER)
            train.write_stop_marker(marker, callback.stopped_reason, 12, callback.stopped_cause)
            with open(marker, encoding="utf-8") as handle:
                self.assertEqual(
                    json.load(handle),
                    {"reason": "the budget deadline is near", "step": 12, "cause": "budget_deadline"},
                )
            train.write_stop_marker(marker, "received SIGTERM", 3)
            with open(marker, encoding="utf-8") as handle:
                self.assertEqual(json.load(handle), {"reason": "received SIGTERM", "step": 3})

    def test_stop_callback_saves_and_ends_training_once(self) -> None:
        event = threading.Event()
        clock = [0.0]
        callback = train.StopCallbackMixin(train.StopController(None, event), clock=lambda: clock[0])
        state = types.SimpleNamespace(global_step=7)
        control = types.SimpleNamespace(should_save=False, should_training_stop=False)
        callback.on_step_end(None, state, control)
        self.assertFalse(control.should_training_stop)
        event.set()
        clock[0] = 2.0
        callback.on_step_end(None, state, control)
        self.assertTrue(control.should_save and control.should_training_stop)
        self.assertEqual((callback.stopped_step, callback.controller.step_seconds), (7, 2.0))
        clock[0] = 32.0
        callback.on_save(None, state, control)
        self.assertEqual(callback.controller.save_seconds, 30.0)


class CheckpointTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tg-ckpt-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def make(self, name: str, complete: bool = True) -> str:
        path = os.path.join(self.tmp, name)
        os.makedirs(path)
        if complete:
            with open(os.path.join(path, "trainer_state.json"), "w") as handle:
                handle.write("{}")
        return path

    def test_newest_complete_checkpoint_by_step_number(self) -> None:
        self.make("checkpoint-900")
        newest = self.make("checkpoint-1000")
        self.make("checkpoint-1200", complete=False)  # cut off mid-save
        self.make("checkpoint-final")
        self.make("runs")
        self.assertEqual(train.find_latest_checkpoint(self.tmp), newest)

    def test_no_checkpoint(self) -> None:
        self.assertIsNone(train.find_latest_checkpoint(self.tmp))
        self.assertIsNone(train.find_latest_checkpoint(os.path.join(self.tmp, "missing")))


class TrainingArgumentsTest(unittest.TestCase):
    COMMON = {
        "output_dir", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
        "gradient_accumulation_steps", "learning_rate", "logging_steps", "logging_first_step", "save_strategy",
        "save_steps", "save_total_limit", "bf16", "fp16", "gradient_checkpointing", "report_to",
        "remove_unused_columns", "optim", "lr_scheduler_type", "seed", "eval_steps", "warmup_steps",
        "gradient_checkpointing_kwargs",
    }
    V4_44 = COMMON | {"evaluation_strategy", "warmup_ratio"}
    V5 = COMMON | {"eval_strategy"}

    def kwargs(self, supported, **config):
        cfg = train.parse_config(minimal(**config))
        return train.training_arguments_kwargs(
            cfg, supported, output_dir="/w/checkpoints/x", has_eval=cfg.hyperparameters.eval_split > 0, precision="bf16", total_steps=1000
        )

    def test_transformers_4_44_names(self) -> None:
        kwargs = self.kwargs(self.V4_44, hyperparameters={"evalSplit": 0.1, "saveSteps": 50})
        self.assertEqual((kwargs["evaluation_strategy"], kwargs["eval_steps"]), ("steps", 50))
        self.assertNotIn("eval_strategy", kwargs)
        self.assertEqual(kwargs["warmup_ratio"], 0.03)
        self.assertNotIn("warmup_steps", kwargs)
        self.assertEqual((kwargs["bf16"], kwargs["fp16"], kwargs["optim"]), (True, False, "adamw_torch"))
        self.assertEqual(kwargs["gradient_checkpointing_kwargs"], {"use_reentrant": False})

    def test_transformers_5_names(self) -> None:
        kwargs = self.kwargs(self.V5, method="QLORA")
        self.assertEqual(kwargs["eval_strategy"], "no")
        self.assertNotIn("evaluation_strategy", kwargs)
        self.assertEqual(kwargs["warmup_steps"], 30)  # 3 % of 1000 steps
        self.assertEqual(kwargs["optim"], "paged_adamw_8bit")

    def test_only_supported_names_are_passed(self) -> None:
        kwargs = self.kwargs({"output_dir", "learning_rate", "evaluation_strategy"})
        self.assertEqual(kwargs, {"output_dir": "/w/checkpoints/x", "learning_rate": 0.0002, "evaluation_strategy": "no"})

    def test_small_version_dependent_names(self) -> None:
        self.assertEqual(train.trainer_tokenizer_kwarg({"model", "processing_class", "tokenizer"}), "processing_class")
        self.assertEqual(train.trainer_tokenizer_kwarg({"model", "tokenizer"}), "tokenizer")
        self.assertIsNone(train.trainer_tokenizer_kwarg({"model"}))
        self.assertEqual(train.dtype_kwarg("4.44.2"), "torch_dtype")
        self.assertEqual(train.dtype_kwarg("4.56.0"), "dtype")
        self.assertEqual(train.dtype_kwarg("5.0.0.dev0"), "dtype")
        self.assertEqual(train.estimate_total_steps(1000, 4, 2, 3), 375)
        self.assertEqual(train.estimate_total_steps(10, 4, 1, 1, world_size=2), 2)

    def test_precision_follows_the_gpu(self) -> None:
        self.assertEqual(train.choose_precision(True, True), "bf16")
        self.assertEqual(train.choose_precision(True, False), "fp16")
        self.assertEqual(train.choose_precision(False, False), "fp32")


if __name__ == "__main__":
    unittest.main()
