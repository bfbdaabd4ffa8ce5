"""train.py with the real torch/transformers/peft/accelerate/datasets on tiny random models (CPU).

Each test fails when the thing it names breaks: a run completes and writes a result that the
libraries load back and generate from; evaluation yields eval_loss; every metric the library
provides reaches the gateway non-null; the gateway's stop gives exit 3 with a checkpoint that a
rerun resumes from; QLoRA builds its NF4 config and is refused cleanly without CUDA; a gated model
behind a Hub that answers 401 fails with a readable message; hf:// dataset URLs are accepted.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unittest

from tests.support import LocalServer, Reply, ScriptedGateway
from tests_real import fixtures
from tests_real.base import TOKEN, RealTestCase, generate_one_token

import train


class LoraAndFullRunsTest(RealTestCase):
    def test_lora_completes_and_writes_an_adapter_that_peft_loads_and_generates_from(self) -> None:
        from peft import AutoPeftModelForCausalLM  # noqa: PLC0415
        from transformers import AutoTokenizer  # noqa: PLC0415

        self.write_dataset(fixtures.chat_rows(8))
        config = fixtures.job_config(fixtures.model_dir("qwen3"), epochs=2, saveSteps=4, gradientCheckpointing=True)
        self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-3000:])
        self.assertEqual(self.summary()["global_step"], 8)
        self.assertIsNone(self.summary()["stopped_early"])
        for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            self.assertTrue(os.path.isfile(self.output(name)), name)
        self.assertTrue(os.path.isfile(os.path.join(self.run_dir(config), "checkpoint-8", "trainer_state.json")))

        model = AutoPeftModelForCausalLM.from_pretrained(self.output())
        tokenizer = AutoTokenizer.from_pretrained(self.output())
        self.assertIn("<|im_start|>", tokenizer.chat_template)  # the real chat template travels with it
        self.assertEqual(generate_one_token(model, tokenizer), 1)

    def test_full_completes_and_writes_a_model_that_transformers_loads_and_generates_from(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

        self.write_dataset(fixtures.alpaca_rows(6), "json")
        config = fixtures.job_config(fixtures.model_dir("llama"), method="FULL", learningRate=0.001)
        self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-3000:])
        self.assertTrue(os.path.isfile(self.output("model.safetensors")))
        self.assertFalse(os.path.exists(self.output("adapter_config.json")))
        model = AutoModelForCausalLM.from_pretrained(self.output())
        before = AutoModelForCausalLM.from_pretrained(fixtures.model_dir("llama"))
        changed = any(
            not a.equal(b) for a, b in zip(model.state_dict().values(), before.state_dict().values())
        )
        self.assertTrue(changed, "FULL training changed no weight")
        self.assertEqual(generate_one_token(model, AutoTokenizer.from_pretrained(self.output())), 1)

    def test_every_dataset_shape_and_file_format_trains(self) -> None:
        cases = [
            ("chat", fixtures.chat_rows(4), "jsonl"),
            ("alpaca", fixtures.alpaca_rows(4), "json"),
            ("text", fixtures.text_rows(4), "json-object"),
            ("mixed", fixtures.mixed_rows(4), "jsonl"),
        ]
        for label, rows, fmt in cases:
            with self.subTest(label=label, fmt=fmt):
                self.write_dataset(rows, fmt)
                config = fixtures.job_config(fixtures.model_dir("llama"), loraR=2 + len(label))  # own run key
                self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-2000:])
                self.assertEqual(self.summary()["global_step"], 2)

    def test_the_chat_template_masks_the_prompt_and_learns_the_answer(self) -> None:
        tokenizer = fixtures.load_tokenizer()
        template = lambda m, g: tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=g)  # noqa: E731
        example = train.format_row(fixtures.chat_rows(3)[2], template, tokenizer.eos_token)
        self.assertTrue(example.templated)
        self.assertTrue(example.prompt.endswith("<|im_start|>assistant\n"))
        self.assertEqual(example.completion, "4<|im_end|>\n")
        (feature,) = train._tokenize_examples(tokenizer, [example], "causal", 64)
        prompt_len = len(tokenizer(example.prompt, add_special_tokens=False)["input_ids"])
        self.assertEqual(feature["labels"][:prompt_len], [-100] * prompt_len)
        self.assertEqual(tokenizer.decode(feature["labels"][prompt_len:]), "4<|im_end|>\n")


class RefusalsTest(RealTestCase):
    def test_an_architecture_outside_the_table_trains_its_linear_layers(self) -> None:
        self.write_dataset(fixtures.chat_rows(4))
        self.assertNotIn("gptj", train.TARGET_MODULES)
        self.assertEqual(self.run_main(fixtures.job_config(fixtures.model_dir("gptj"))), train.EXIT_OK, self.stderr.getvalue()[-2000:])
        with open(self.output("adapter_config.json")) as handle:
            targets = sorted(json.load(handle)["target_modules"])
        self.assertEqual(targets, ["fc_in", "fc_out", "k_proj", "out_proj", "q_proj", "v_proj"])

    def test_a_deadline_already_near_stops_with_exit_3_before_loading_anything(self) -> None:
        import datetime as dt  # noqa: PLC0415

        self.write_dataset(fixtures.chat_rows(4))
        soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = fixtures.job_config(fixtures.model_dir("llama"))
        self.assertEqual(self.run_main(config, BUDGET_DEADLINE=soon), train.EXIT_STOPPED)
        with open(os.path.join(self.workspace, train.STOP_MARKER)) as handle:
            self.assertIn("deadline", json.load(handle)["reason"])
        self.assertFalse(os.path.exists(self.output()))

    def test_a_dataset_of_unknown_shape_exits_2_naming_the_shapes(self) -> None:
        self.write_dataset([{"question": "no known shape"}])
        self.assertEqual(self.run_main(fixtures.job_config(fixtures.model_dir("llama"))), train.EXIT_CONFIG)
        self.assertIn("unrecognised dataset row", self.stderr.getvalue())


class MetricsTest(RealTestCase):
    def test_eval_split_gives_eval_loss_and_every_library_metric_reaches_the_gateway_non_null(self) -> None:
        gateway = ScriptedGateway(TOKEN)
        server = LocalServer(gateway)
        self.addCleanup(server.close)
        self.write_dataset(fixtures.mixed_rows(10))
        config = fixtures.job_config(fixtures.model_dir("llama"), evalSplit=0.2, saveSteps=2, loggingSteps=1)
        code = self.run_main(
            config,
            METRICS_API_URL=f"{server.url}/api/training/jobs",
            JOB_ID="job-metrics",
            JOB_TOKEN=TOKEN,
            TRAINGATE_SPOOL_DIR=os.path.join(self.tmp, "spool"),
        )
        self.assertEqual(code, train.EXIT_OK, self.stderr.getvalue()[-3000:])
        points = {p["step"]: p for p in gateway.accepted}  # a resend of a step replaces it, as the gateway does
        self.assertEqual(sorted(points), [1, 2, 3, 4])
        for step, point in points.items():
            for key in ("loss", "learning_rate", "grad_norm", "epoch", "samples_per_second", "elapsed_seconds", "progress"):
                self.assertIsNotNone(point.get(key), f"step {step}: {key} is null in {point}")
            self.assertIsNone(point["gpu_memory_allocated_gb"])  # no GPU here: null, not a made-up number
        for step in (2, 4):  # evaluated every saveSteps
            self.assertIsInstance(points[step]["eval_loss"], float, points[step])
        self.assertEqual(points[4]["progress"], 100.0)
        self.assertEqual(points[4]["remaining_seconds"], 0.0)


class StopAndResumeTest(RealTestCase):
    def test_the_gateways_stop_exits_3_with_a_checkpoint_and_a_rerun_resumes_and_completes(self) -> None:
        gateway = ScriptedGateway(TOKEN)
        gateway.default = lambda: Reply(200, {"status": "ok", "accepted": 1, "stop": True})
        server = LocalServer(gateway)
        self.addCleanup(server.close)
        self.write_dataset(fixtures.mixed_rows(8))
        config = fixtures.job_config(fixtures.model_dir("llama"), epochs=150, saveSteps=100000)  # 600 steps
        reporting = dict(
            METRICS_API_URL=f"{server.url}/api/training/jobs",
            JOB_ID="job-stop",
            JOB_TOKEN=TOKEN,
            TRAINGATE_METRICS_FLUSH_SECONDS="0.05",
            TRAINGATE_SPOOL_DIR=os.path.join(self.tmp, "spool"),
        )
        self.assertEqual(self.run_main(config, **reporting), train.EXIT_STOPPED, self.stderr.getvalue()[-3000:])
        with open(os.path.join(self.workspace, train.STOP_MARKER)) as handle:
            marker = json.load(handle)
        self.assertIn("gateway", marker["reason"])
        self.assertTrue(0 < marker["step"] < 600, marker)
        checkpoint = os.path.join(self.run_dir(config), f"checkpoint-{marker['step']}")
        self.assertTrue(os.path.isfile(os.path.join(checkpoint, "trainer_state.json")))
        self.assertTrue(os.path.isfile(os.path.join(checkpoint, "adapter_model.safetensors")))
        self.assertEqual(self.summary()["stopped_early"], marker["reason"])  # the partial result is kept
        self.assertTrue(os.path.isfile(self.output("adapter_model.safetensors")))

        gateway.default = lambda: Reply(200, {"status": "ok", "accepted": 1, "stop": False})
        before = len(gateway.accepted)
        os.remove(os.path.join(self.workspace, train.STOP_MARKER))
        with self.assertLogs("traingate.train", level="INFO") as logs:
            self.assertEqual(self.run_main(config, **reporting), train.EXIT_OK, self.stderr.getvalue()[-3000:])
        self.assertIn(f"resuming from {checkpoint}", "\n".join(logs.output))
        self.assertEqual(self.summary()["global_step"], 600)
        resumed_steps = [p["step"] for p in gateway.accepted[before:]]
        self.assertGreater(min(resumed_steps), marker["step"])  # it did not start over
        self.assertEqual(max(resumed_steps), 600)
        self.assertFalse(os.path.exists(os.path.join(self.workspace, train.STOP_MARKER)))


class QuantizationTest(RealTestCase):
    def test_the_qlora_config_is_4_bit_nf4_with_double_quantization(self) -> None:
        import torch  # noqa: PLC0415

        config = train.quantization_config(4, torch.bfloat16)
        self.assertEqual(type(config).__name__, "BitsAndBytesConfig")
        self.assertTrue(config.load_in_4bit)
        self.assertFalse(config.load_in_8bit)
        self.assertEqual(config.bnb_4bit_quant_type, "nf4")
        self.assertTrue(config.bnb_4bit_use_double_quant)
        self.assertEqual(config.bnb_4bit_compute_dtype, torch.bfloat16)
        self.assertTrue(train.quantization_config(8, torch.float16).load_in_8bit)

    def test_qlora_without_cuda_is_refused_with_exit_2_and_a_readable_message(self) -> None:
        import bitsandbytes  # noqa: F401, PLC0415 - it installs and imports on a CPU-only machine

        self.write_dataset(fixtures.chat_rows(4))
        for method, quantization in (("QLORA", "NONE"), ("LORA", "INT8"), ("LORA", "INT4")):
            with self.subTest(method=method, quantization=quantization):
                config = fixtures.job_config(fixtures.model_dir("llama"), method=method, quantization=quantization)
                code, out = fixtures.run_train(self.env(config))
                self.assertEqual(code, train.EXIT_CONFIG, out[-2000:])
                self.assertIn("needs a CUDA GPU", out)
                self.assertNoTraceback(out)
                self.assertFalse(os.path.exists(self.output()))

    def test_quantized_training_on_several_processes_is_refused(self) -> None:
        self.write_dataset(fixtures.chat_rows(4))
        config = fixtures.job_config(fixtures.model_dir("llama"), method="QLORA")
        code = self.run_main(config, WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")
        self.assertEqual(code, train.EXIT_CONFIG)
        self.assertIn("WORLD_SIZE > 1", self.stderr.getvalue())


class GatedModelTest(RealTestCase):
    def refused(self, hub: "fixtures.RefusingHub", model: str) -> str:
        self.addCleanup(hub.close)
        self.write_dataset(fixtures.chat_rows(4))
        for offline in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            self.assertEqual(os.environ.get(offline), "1")  # the rest of the suite stays offline
        # Online for this run only, and the only "Hub" is the local fake; HF_HOME is empty (not cached).
        env = self.env(
            fixtures.job_config(model), HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", HF_TOKEN="hf_bad"
        )
        for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env.pop(proxy, None)
        code, out = fixtures.run_train(env)
        self.assertEqual(code, train.EXIT_CONFIG, out[-3000:])
        self.assertIn(f"/{model}/resolve/main/config.json", hub.paths)  # the local fake was asked, and refused
        self.assertIn("accept the model's licence", out.lower())
        self.assertIn("HUGGINGFACE token", out)
        self.assertNoTraceback(out)
        self.assertNotIn("hf_bad", out)
        return out

    def test_a_gated_model_the_hub_refuses_with_401_fails_with_exit_2_and_says_what_to_do(self) -> None:
        out = self.refused(fixtures.RefusingHub(401, "GatedRepo", "Access to model acme/gated-7b is restricted."), "acme/gated-7b")
        self.assertIn("acme/gated-7b", out)
        self.assertIn("HTTP 401", out)

    def test_a_403_is_explained_the_same_way(self) -> None:
        out = self.refused(fixtures.RefusingHub(403, None, "Forbidden"), "acme/private-1b")
        self.assertIn("HTTP 403", out)


class HubDatasetUrlTest(RealTestCase):
    def test_an_hf_dataset_url_is_accepted_and_keys_the_run_train_py_reads_the_downloaded_file(self) -> None:
        self.write_dataset(fixtures.chat_rows(4))
        urls = [
            "hf://datasets/alice/chat",
            "hf://datasets/alice/chat/data/train.jsonl",
            "hf://datasets/alice/chat/train.jsonl@v1.0",
        ]
        keys = set()
        for url in urls:
            config = fixtures.job_config(fixtures.model_dir("llama"), dataset_url=url)
            keys.add(train.run_key(train.parse_config(config)))
            self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-2000:])
        self.assertEqual(len(keys), 3)  # another file or revision never resumes a foreign checkpoint
        for bad in ("hf://models/alice/x", "hf://datasets/alice", "hf://datasets//x"):
            with self.assertRaisesRegex(train.ConfigError, re.escape("hf://datasets/<owner>/<name>")):
                train.parse_config(fixtures.job_config("m", dataset_url=bad))


class Gemma3Test(RealTestCase):
    def test_gemma3_conditional_generation_trains_text_only_with_token_type_ids(self) -> None:
        import torch  # noqa: PLC0415
        from transformers import AutoModelForCausalLM  # noqa: PLC0415

        model = AutoModelForCausalLM.from_pretrained(fixtures.model_dir("gemma3"))
        self.assertEqual(type(model).__name__, "Gemma3ForConditionalGeneration")
        tokenizer = fixtures.load_tokenizer()
        from transformers import DataCollatorForSeq2Seq  # noqa: PLC0415

        collator = train.TokenTypeIdsCollator(DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
        batch = collator([{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [5, 6, 7]}])
        self.assertTrue(torch.equal(batch["token_type_ids"], torch.zeros_like(batch["input_ids"])))
        model.train()
        loss = model(**batch).loss
        loss.backward()
        self.assertTrue(torch.isfinite(loss))

        self.write_dataset(fixtures.chat_rows(4))
        for method in ("LORA", "FULL"):
            with self.subTest(method=method):
                config = fixtures.job_config(fixtures.model_dir("gemma3"), method=method)
                self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-3000:])


class Gemma3StrictTest(RealTestCase):
    """transformers releases before 5.x raise in Gemma3ForConditionalGeneration.forward when training
    without token_type_ids; 5.24 does not. The check is put back here to prove train.py passes them."""

    def test_gemma3_training_passes_token_type_ids_to_a_model_that_requires_them(self) -> None:
        import functools  # noqa: PLC0415
        from unittest import mock  # noqa: PLC0415

        from transformers import Gemma3ForConditionalGeneration  # noqa: PLC0415

        original = Gemma3ForConditionalGeneration.forward
        seen = []

        @functools.wraps(original)
        def strict(model, *args, **kwargs):
            if model.training:
                seen.append(kwargs.get("token_type_ids") is not None)
                if kwargs.get("token_type_ids") is None:
                    raise ValueError("`token_type_ids` is required as a model input when training")
            return original(model, *args, **kwargs)

        self.write_dataset(fixtures.chat_rows(4))
        config = fixtures.job_config(fixtures.model_dir("gemma3"))
        with mock.patch.object(Gemma3ForConditionalGeneration, "forward", strict):
            self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-3000:])
            self.assertTrue(seen and all(seen), seen)
            # Without train.py's collator the same run fails: the check above is live.
            with mock.patch.object(train, "NEEDS_TOKEN_TYPE_IDS", frozenset()):
                self.assertEqual(self.run_main(fixtures.job_config(fixtures.model_dir("gemma3"), loraR=6)), train.EXIT_FAILED)
            self.assertIn("token_type_ids", self.stderr.getvalue())


if __name__ == "__main__":
    unittest.main(argv=sys.argv)
