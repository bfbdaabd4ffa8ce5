"""Real-library fixtures for the pod suite: a BPE tokenizer trained here with a ChatML chat template,
tiny random-weight models built from each architecture's config class (one per family of train.py's
LoRA table), datasets in every supported shape, and a runner for train.py as the pod runs it.

Nothing is downloaded: models and tokenizer are built locally and cached under <repo>/.cache/pod-tests/
keyed by the transformers version (and FIXTURE_VERSION, bumped when the builders change).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
REPO = os.path.dirname(SCRIPTS)
TRAIN_PY = os.path.join(SCRIPTS, "train.py")
FIXTURE_VERSION = "1"
VOCAB = 384  # the models' vocab_size; the tokenizer has at most this many tokens

# Offline always: nothing in this suite may reach a hub.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
os.environ.update(OFFLINE_ENV)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHATML = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIALS = ["<pad>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<mask>"]

WORDS = (
    "the model learns to answer short questions about numbers colours animals and places . "
    "two plus two is four . the sky is blue . cats and dogs are animals . paris is in france . "
    "what is the capital of italy ? rome . translate hello to french : bonjour . "
    "count to five : one two three four five . the quick brown fox jumps over the lazy dog ."
).split(" . ")


def _cache_root() -> str:
    import transformers  # noqa: PLC0415

    root = os.environ.get("TRAINGATE_POD_TEST_CACHE") or os.path.join(REPO, ".cache", "pod-tests")
    return os.path.join(root, f"transformers-{transformers.__version__}-fixtures-{FIXTURE_VERSION}")


def _cached(name: str, build: Callable[[str], None]) -> str:
    """A folder built once by `build(path)` and reused; built in a scratch folder, then renamed, under
    a lock of its own so that parallel test processes (torchrun ranks, jest) never see half a model. One lock
    per folder, not one for the cache: building a model takes the tokenizer's folder, which must not wait on
    the lock its own build holds."""
    root = _cache_root()
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, name)
    if os.path.isfile(os.path.join(final, ".complete")):
        return final
    with open(os.path.join(root, f".lock-{name}"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(final, ".complete")):
            return final
        scratch = tempfile.mkdtemp(prefix=f".{name}-", dir=root)
        build(scratch)
        with open(os.path.join(scratch, ".complete"), "w") as handle:
            handle.write("ok\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(scratch, final)
    return final


def corpus() -> List[str]:
    lines = [w.strip() for w in WORDS if w.strip()]
    return lines + [row_text(r) for r in alpaca_rows(16)] + ["### Instruction:", "### Response:", "### Input:"]


def tokenizer_dir() -> str:
    def build(path: str) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: PLC0415
        from transformers import PreTrainedTokenizerFast  # noqa: PLC0415

        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=VOCAB, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        tok.train_from_iterator(corpus() * 4, trainer=trainer)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            pad_token="<pad>",
            unk_token="<unk>",
            eos_token="<|im_end|>",
            mask_token="<mask>",
            additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
            model_max_length=256,
        )
        fast.chat_template = CHATML
        fast.save_pretrained(path)
        assert len(fast) <= VOCAB, len(fast)

    return _cached("tokenizer", build)


def load_tokenizer() -> Any:
    from transformers import AutoTokenizer  # noqa: PLC0415

    return AutoTokenizer.from_pretrained(tokenizer_dir())


# ---------------------------------------------------------------------------------------------
# Tiny models: one per family of train.py's TARGET_MODULES
# ---------------------------------------------------------------------------------------------


def _ids() -> Dict[str, int]:
    tok = load_tokenizer()
    return {"pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id, "bos_token_id": tok.eos_token_id}


def _decoder_kwargs(**extra: Any) -> Dict[str, Any]:
    kwargs = dict(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        **_ids(),
    )
    kwargs.update(extra)
    return kwargs


def _family_builders() -> Dict[str, Callable[[], Any]]:
    import transformers as t  # noqa: PLC0415

    def gemma3() -> Any:
        text = t.Gemma3TextConfig(**_decoder_kwargs(head_dim=8, sliding_window=16))
        vision = t.SiglipVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, image_size=28, patch_size=14
        )
        config = t.Gemma3Config(
            text_config=text.to_dict(), vision_config=vision.to_dict(), mm_tokens_per_image=1, **_ids()
        )
        # The image-token ids must exist in the tiny vocabulary.
        config.image_token_id = config.image_token_index = VOCAB - 1
        config.boi_token_id = config.boi_token_index = VOCAB - 2
        config.eoi_token_id = config.eoi_token_index = VOCAB - 3
        return t.Gemma3ForConditionalGeneration(config)

    ids = _ids
    return {
        "llama": lambda: t.LlamaForCausalLM(t.LlamaConfig(**_decoder_kwargs())),
        "mistral": lambda: t.MistralForCausalLM(t.MistralConfig(**_decoder_kwargs(head_dim=8))),
        "mixtral": lambda: t.MixtralForCausalLM(
            t.MixtralConfig(**_decoder_kwargs(head_dim=8, num_local_experts=2, num_experts_per_tok=1))
        ),
        "qwen2": lambda: t.Qwen2ForCausalLM(t.Qwen2Config(**_decoder_kwargs())),
        "qwen3": lambda: t.Qwen3ForCausalLM(t.Qwen3Config(**_decoder_kwargs(head_dim=8))),
        "gemma": lambda: t.GemmaForCausalLM(t.GemmaConfig(**_decoder_kwargs(head_dim=8))),
        "gemma2": lambda: t.Gemma2ForCausalLM(t.Gemma2Config(**_decoder_kwargs(head_dim=8, sliding_window=16))),
        "gemma3_text": lambda: t.Gemma3ForCausalLM(t.Gemma3TextConfig(**_decoder_kwargs(head_dim=8, sliding_window=16))),
        "gemma3": gemma3,
        "phi": lambda: t.PhiForCausalLM(t.PhiConfig(**_decoder_kwargs())),
        "phi3": lambda: t.Phi3ForCausalLM(t.Phi3Config(**_decoder_kwargs())),
        "gpt2": lambda: t.GPT2LMHeadModel(
            t.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=256, **ids())
        ),
        "gpt_neox": lambda: t.GPTNeoXForCausalLM(
            t.GPTNeoXConfig(
                vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=256, **ids(),
            )
        ),
        "falcon": lambda: t.FalconForCausalLM(
            t.FalconConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, **ids())
        ),
        "t5": lambda: t.T5ForConditionalGeneration(
            t.T5Config(
                vocab_size=VOCAB, d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4,
                feed_forward_proj="gated-gelu", decoder_start_token_id=ids()["pad_token_id"],
                pad_token_id=ids()["pad_token_id"], eos_token_id=ids()["eos_token_id"],
            )
        ),
        # Outside train.py's table: LoRA falls back to the model's linear layers.
        "gptj": lambda: t.GPTJForCausalLM(
            t.GPTJConfig(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=256, **ids())
        ),
        "bert": lambda: t.BertForMaskedLM(
            t.BertConfig(
                vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=256, pad_token_id=ids()["pad_token_id"],
            )
        ),
    }


FAMILIES = (
    "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gemma3",
    "phi", "phi3", "gpt2", "gpt_neox", "falcon", "t5", "bert",
)


def model_dir(family: str) -> str:
    """A saved tiny model of `family` (weights + config + the tokenizer), loadable by path."""

    def build(path: str) -> None:
        import torch  # noqa: PLC0415

        torch.manual_seed(0)
        model = _family_builders()[family]()
        model.save_pretrained(path)
        load_tokenizer().save_pretrained(path)

    return _cached(f"model-{family}", build)


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------


def alpaca_rows(n: int) -> List[Dict[str, str]]:
    rows = []
    for i in range(n):
        rows.append({"instruction": f"add {i} and {i + 1}", "input": "" if i % 2 else "numbers", "output": str(2 * i + 1)})
    return rows


def chat_rows(n: int) -> List[Dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "system", "content": "answer briefly"},
                {"role": "user", "content": f"what is {i} plus {i}?"},
                {"role": "assistant", "content": f"{2 * i}"},
            ]
        }
        for i in range(n)
    ]


def text_rows(n: int) -> List[Dict[str, str]]:
    lines = [w.strip() for w in WORDS if w.strip()]
    return [{"text": lines[i % len(lines)]} for i in range(n)]


def row_text(row: Dict[str, Any]) -> str:
    return " ".join(str(v) for v in row.values())


def mixed_rows(n: int) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for a, c, x in zip(alpaca_rows(n), chat_rows(n), text_rows(n)):
        rows.extend([a, c, x])
    return rows[:n]


def encode_rows(rows: List[Dict[str, Any]], fmt: str) -> bytes:
    if fmt == "jsonl":
        return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    if fmt == "json-object":
        return json.dumps({"data": rows}).encode()
    return json.dumps(rows).encode()


# ---------------------------------------------------------------------------------------------
# Running train.py as the pod does: a subprocess with the pod's environment contract
# ---------------------------------------------------------------------------------------------


def job_config(model: str, dataset_url: str = "https://data.example/train.jsonl", method: str = "LORA", **hp: Any) -> Dict[str, Any]:
    hyper = {"epochs": 1, "batchSize": 2, "loggingSteps": 1, "saveSteps": 1000, "maxSeqLength": 64, "loraR": 4, "loraAlpha": 8,
             "gradientCheckpointing": False, "warmupRatio": 0.0}
    hyper.update(hp)
    return {"modelName": model, "datasetUrl": dataset_url, "method": method, "hyperparameters": hyper}


def train_env(config: Dict[str, Any], workspace: str, dataset: str, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINGATE_", "HF_", "METRICS_", "JOB_"))}
    env.update(OFFLINE_ENV)
    env.update(
        {
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(config).encode()).decode(),
            "TRAINGATE_WORKSPACE": workspace,
            "TRAINGATE_DATASET_PATH": dataset,
            "TRAINGATE_METRICS_CLOSE_SECONDS": "10",
            "HF_HOME": os.path.join(workspace, ".hf-home"),  # never the developer's own cache
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run_train(env: Dict[str, str], timeout: float = 240, argv: Optional[List[str]] = None) -> Tuple[int, str]:
    """train.py in a subprocess of this (venv) python; (exit code, stderr+stdout)."""
    command = argv or [sys.executable, TRAIN_PY]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=SCRIPTS)
    return done.returncode, done.stdout.decode("utf-8", "replace")


if __name__ == "__main__":
    # `python fixtures.py` builds every fixture and prints the folders as JSON (the jest spec uses it).
    print(json.dumps({"tokenizer": tokenizer_dir(), **{f: model_dir(f) for f in sys.argv[1:] or ["llama"]}}))


class RefusingHub:
    """A local stand-in for the Hugging Face Hub that refuses every request (HEAD included, which the
    Hub client sends first) with `status` and the Hub's error headers; records the paths asked for."""

    def __init__(self, status: int, error_code: Optional[str] = None, message: str = "Access is restricted.") -> None:
        import http.server  # noqa: PLC0415
        import threading  # noqa: PLC0415

        self.paths: List[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _refuse(self) -> None:
                hub.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"error": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Error-Message", message)
                if error_code:
                    self.send_header("X-Error-Code", error_code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET = do_POST = _refuse

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
