"""Shared setup of the real-library tests: quiet logs, a scratch workspace, train.main() in-process."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import signal
import tempfile
import unittest
from typing import Any, Dict, List, Optional

from tests_real import fixtures

import train  # noqa: E402  (fixtures set the offline environment first)

TOKEN = "job-token"


def setup_torch() -> None:
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
    for name in ("traingate.train", "traingate.reporter", "transformers", "peft", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)


class RealTestCase(unittest.TestCase):
    def setUp(self) -> None:
        setup_torch()
        self.tmp = tempfile.mkdtemp(prefix="tg-real-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.workspace = os.path.join(self.tmp, "workspace")
        os.makedirs(self.workspace)
        self.dataset = os.path.join(self.tmp, "dataset.jsonl")
        for sig in (signal.SIGTERM, signal.SIGINT):  # main() installs its own handlers
            self.addCleanup(signal.signal, sig, signal.getsignal(sig))

    def write_dataset(self, rows: List[Dict[str, Any]], fmt: str = "jsonl") -> str:
        with open(self.dataset, "wb") as handle:
            handle.write(fixtures.encode_rows(rows, fmt))
        return self.dataset

    def env(self, config: Dict[str, Any], **extra: str) -> Dict[str, str]:
        return fixtures.train_env(config, self.workspace, self.dataset, **extra)

    def run_main(self, config: Dict[str, Any], **extra: str) -> int:
        """train.main() in this process (the libraries are imported once for the whole suite)."""
        self.stderr = io.StringIO()
        with contextlib.redirect_stderr(self.stderr):
            return train.main(self.env(config, **extra))

    def output(self, *parts: str) -> str:
        return os.path.join(self.workspace, "output", *parts)

    def summary(self) -> Dict[str, Any]:
        with open(self.output("traingate_training.json")) as handle:
            return json.load(handle)

    def run_dir(self, config: Dict[str, Any]) -> str:
        return os.path.join(self.workspace, "checkpoints", train.run_key(train.parse_config(config)))

    def assertNoTraceback(self, text: str) -> None:  # noqa: N802
        self.assertNotIn("Traceback", text)


def generate_one_token(model: Any, tokenizer: Any, prompt: str = "two plus two") -> int:
    import torch  # noqa: PLC0415

    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=1, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return int(out.shape[-1] - inputs["input_ids"].shape[-1])


