"""Every family of train.py's LoRA table, on a tiny random model of the real architecture: train.py
loads it with its own code (AutoConfig / AutoTokenizer / the Auto model class it picks), applies LoRA
with the table's targets, runs three training steps and saves an adapter that peft loads back."""

from __future__ import annotations

import json
import os
import unittest

from tests_real import fixtures
from tests_real.base import RealTestCase

import train


def rows_for(family: str):
    if family == "t5":  # encoder-decoder: prompt -> answer rows only
        return fixtures.alpaca_rows(4) + fixtures.chat_rows(2)
    return fixtures.mixed_rows(6)


class FamilyTest(RealTestCase):
    def test_the_suite_covers_every_family_of_the_table(self) -> None:
        self.assertEqual(sorted(fixtures.FAMILIES), sorted(train.TARGET_MODULES))

    def check_family(self, family: str) -> None:
        from peft import PeftModel  # noqa: PLC0415
        import transformers  # noqa: PLC0415

        model_path = fixtures.model_dir(family)
        self.write_dataset(rows_for(family))
        config = fixtures.job_config(model_path, batchSize=2)
        self.assertEqual(self.run_main(config), train.EXIT_OK, self.stderr.getvalue()[-3000:])
        self.assertEqual(self.summary()["global_step"], 3)
        with open(self.output("adapter_config.json")) as handle:
            adapter = json.load(handle)

        base_config = transformers.AutoConfig.from_pretrained(model_path)
        self.assertEqual(base_config.model_type, family)
        kind = train.model_kind(family, bool(getattr(base_config, "is_encoder_decoder", False)))
        auto = {
            "causal": transformers.AutoModelForCausalLM,
            "seq2seq": transformers.AutoModelForSeq2SeqLM,
            "masked": transformers.AutoModelForMaskedLM,
        }[kind]
        base = auto.from_pretrained(model_path)
        model = PeftModel.from_pretrained(base, self.output())
        adapted = sorted({n.split(".lora_A")[0] for n, _ in model.named_parameters() if ".lora_A" in n})
        self.assertTrue(adapted, "no LoRA layer was created")
        table = set(train.TARGET_MODULES[family])
        for name in adapted:
            leaf = name.rsplit(".", 1)[-1]
            # Fused MoE experts are adapted as parameters (experts.gate_up_proj / experts.down_proj).
            self.assertTrue(leaf in table or ".experts" in name, f"{name} is not a target of the {family} row")
        if family == "gemma3":
            # Gemma 3 4B+ is the multimodal class: text-only LoRA leaves the vision tower alone.
            self.assertEqual(type(base).__name__, "Gemma3ForConditionalGeneration")
            self.assertFalse([n for n in adapted if "vision_tower" in n])
            self.assertTrue([n for n in adapted if "language_model" in n])
        if family == "mixtral":
            # transformers 5 fuses the experts into parameters; peft maps the table's w1/w2/w3 onto them.
            self.assertTrue(adapter.get("target_parameters"), adapter)
        self.assertTrue(os.path.isfile(self.output("tokenizer.json")))


def _add(family: str) -> None:
    def test(self: FamilyTest) -> None:
        self.check_family(family)

    test.__name__ = f"test_{family}_loads_gets_lora_on_its_table_targets_trains_and_saves"
    setattr(FamilyTest, test.__name__, test)


for _family in fixtures.FAMILIES:
    _add(_family)


if __name__ == "__main__":
    unittest.main()
