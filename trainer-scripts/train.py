#!/usr/bin/env python3
"""TrainGate trainer: fine-tune one model on the pod (LoRA, QLoRA or full), report metrics, save.

Run by bootstrap.sh as `python3 train.py`. Everything comes from the environment:
  TRAINGATE_CONFIG_B64 (base64 JSON) or TRAINGATE_CONFIG_FILE (path to the JSON), the job config;
  TRAINGATE_DATASET_PATH, the downloaded dataset (JSON or JSONL);
  TRAINGATE_WORKSPACE (default /workspace): checkpoints under checkpoints/, the result in output/;
  BUDGET_DEADLINE (ISO-8601 UTC): stop, with a checkpoint, before this moment;
  METRICS_API_URL, JOB_ID, JOB_TOKEN: where metrics go (metrics_reporter.py);
  HF_TOKEN: read by transformers itself for gated models.

Exit codes (the contract with bootstrap.sh):
  0  training finished; the model/adapter and tokenizer are in <workspace>/output
  3  stopped early on request (gateway "stop": true, BUDGET_DEADLINE near, SIGTERM/SIGINT):
     a checkpoint was saved and the partial result is in <workspace>/output; the file
     <workspace>/.traingate-stopped holds {"reason": ..., "step": ...}, and "cause": "budget_deadline"
     when the trainer stopped by itself at BUDGET_DEADLINE (bootstrap.sh reports it as the stop's reason)
  2  the configuration, dataset or architecture is unusable, the Hub refused the model (gated or
     private), or quantization was asked for without CUDA or on several processes (message on stderr)
  1  anything else failed (traceback on stderr)

Under torchrun (RANK/LOCAL_RANK/WORLD_SIZE set) every rank trains (DDP, one GPU each, no device_map);
only rank 0 reports metrics and writes output/ and the stop marker; a stop seen by any rank stops all
at the same step. torchrun itself exits 1 when a rank exits non-zero, so under torchrun the stop
marker, not the exit code, tells a stop (3) from a failure.

The pure helpers at the top (config parsing, architecture detection, row formatting, deadline
math, checkpoint discovery, TrainingArguments mapping) import nothing heavy so that they are
testable without torch; torch, transformers, peft, datasets and bitsandbytes are imported inside
`run_training` only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import random
import re
import signal
import shutil
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

LOG = logging.getLogger("traingate.train")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_STOPPED = 3
STOP_MARKER = ".traingate-stopped"
# The stop marker's "cause" (and the status report's "reason") for a stop at BUDGET_DEADLINE: the trainer's own
# decision, which the gateway records as a budget stop.
CAUSE_BUDGET_DEADLINE = "budget_deadline"

METHODS = ("LORA", "QLORA", "FULL")
QUANTIZATIONS = ("NONE", "INT8", "INT4")
ON_COMPLETE = ("TERMINATE", "STOP")

#: The defaults of the public HyperparametersInput (src/training-configs/training-config.types.ts).
DEFAULT_HYPERPARAMETERS: Dict[str, Any] = {
    "epochs": 1,
    "batchSize": 4,
    "gradientAccumulationSteps": 1,
    "learningRate": 0.0002,
    "maxSeqLength": 2048,
    "warmupRatio": 0.03,
    "loggingSteps": 10,
    "saveSteps": 200,
    "loraR": 16,
    "loraAlpha": 32,
    "loraDropout": 0.05,
    "targetModules": None,
    "quantization": "NONE",
    "gradientCheckpointing": True,
    "evalSplit": 0.0,
}


#: The Hub form of datasetUrl (hf://datasets/<owner>/<name>[/<file>][@<revision>]); bootstrap.sh downloads it, train.py only keys checkpoints by it.
HF_DATASET_URL = re.compile(r"hf://datasets/[A-Za-z0-9][\w.-]*/[\w.-]+(/[^@\s]+)?(@[\w./-]+)?")


class ConfigError(ValueError):
    """The job cannot run as configured (bad config, dataset or architecture): exit code 2."""


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    epochs: int
    batch_size: int
    gradient_accumulation_steps: int
    learning_rate: float
    max_seq_length: int
    warmup_ratio: float
    logging_steps: int
    save_steps: int
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: Optional[Tuple[str, ...]]
    quantization: str
    gradient_checkpointing: bool
    eval_split: float


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    hub_repo_id: Optional[str]
    hub_private: bool
    network_volume_id: Optional[str]
    on_complete: str  # TERMINATE | STOP; TERMINATE when not given
    gateway: bool = False  # upload output/ to the gateway (artifact_upload.py)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model_name: str
    dataset_url: str
    method: str
    hyperparameters: Hyperparameters
    output: OutputSpec

    @property
    def quantization_bits(self) -> Optional[int]:
        """4 or 8 when the base model is loaded quantized through bitsandbytes, else None."""
        q = self.hyperparameters.quantization
        if q == "INT8":
            return 8
        if q == "INT4" or self.method == "QLORA":
            return 4
        return None

    @property
    def uses_lora(self) -> bool:
        return self.method in ("LORA", "QLORA")


def _check_int(errors: List[str], hp: Mapping[str, Any], key: str, minimum: int) -> int:
    value = hp.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not value.is_integer())  # also NaN and Infinity
    ):
        errors.append(f"hyperparameters.{key} must be an integer, got {value!r}")
        return minimum
    if int(value) < minimum:
        errors.append(f"hyperparameters.{key} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_float(errors: List[str], hp: Mapping[str, Any], key: str, low: float, high: float, *, open_high: bool = False) -> float:
    value = hp.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        errors.append(f"hyperparameters.{key} must be a number, got {value!r}")
        return low
    number = float(value)
    if number < low or number > high or (open_high and number >= high):
        bound = f"[{low}, {high})" if open_high else f"[{low}, {high}]"
        errors.append(f"hyperparameters.{key} must be in {bound}, got {value!r}")
    return number


def _optional_str(errors: List[str], value: Any, name: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(f"{name} must be a string or null, got {value!r}")
        return None
    return value


def parse_config(raw: Any) -> TrainConfig:
    """Validate the job config and fill in the public API's defaults; every problem is reported at once."""
    if not isinstance(raw, dict):
        raise ConfigError("the training config must be a JSON object")
    errors: List[str] = []

    model_name = raw.get("modelName")
    if not isinstance(model_name, str) or not model_name.strip():
        errors.append("modelName must be a non-empty string")
        model_name = ""
    dataset_url = raw.get("datasetUrl")
    if not isinstance(dataset_url, str) or not (
        re.match(r"^https?://", dataset_url) or HF_DATASET_URL.fullmatch(dataset_url)
    ):
        errors.append("datasetUrl must be an http(s) URL or hf://datasets/<owner>/<name>[/<file>][@<revision>]")
        dataset_url = ""
    method = raw.get("method") or "LORA"
    if method not in METHODS:
        errors.append(f"method must be one of {', '.join(METHODS)}, got {method!r}")

    given = raw.get("hyperparameters") or {}
    if not isinstance(given, dict):
        errors.append("hyperparameters must be an object")
        given = {}
    hp = dict(DEFAULT_HYPERPARAMETERS)
    hp.update({k: v for k, v in given.items() if v is not None})

    target_modules = hp.get("targetModules")
    if target_modules is not None:
        if not isinstance(target_modules, list) or not all(isinstance(m, str) and m for m in target_modules):
            errors.append("hyperparameters.targetModules must be a list of module names or null")
            target_modules = None
        else:
            target_modules = tuple(target_modules) or None
    quantization = hp.get("quantization")
    if quantization not in QUANTIZATIONS:
        errors.append(f"hyperparameters.quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
        quantization = "NONE"
    if method == "FULL" and quantization != "NONE":
        errors.append("method FULL cannot train a quantized model: set quantization to NONE or use LORA/QLORA")
    if not isinstance(hp.get("gradientCheckpointing"), bool):
        errors.append("hyperparameters.gradientCheckpointing must be a boolean")

    hyper = Hyperparameters(
        epochs=_check_int(errors, hp, "epochs", 1),
        batch_size=_check_int(errors, hp, "batchSize", 1),
        gradient_accumulation_steps=_check_int(errors, hp, "gradientAccumulationSteps", 1),
        learning_rate=_check_float(errors, hp, "learningRate", 0.0, 1.0),
        max_seq_length=_check_int(errors, hp, "maxSeqLength", 8),
        warmup_ratio=_check_float(errors, hp, "warmupRatio", 0.0, 1.0),
        logging_steps=_check_int(errors, hp, "loggingSteps", 1),
        save_steps=_check_int(errors, hp, "saveSteps", 1),
        lora_r=_check_int(errors, hp, "loraR", 1),
        lora_alpha=_check_int(errors, hp, "loraAlpha", 1),
        lora_dropout=_check_float(errors, hp, "loraDropout", 0.0, 1.0, open_high=True),
        target_modules=target_modules,
        quantization=quantization,
        gradient_checkpointing=bool(hp.get("gradientCheckpointing")),
        eval_split=_check_float(errors, hp, "evalSplit", 0.0, 1.0, open_high=True),
    )

    out = raw.get("output") or {}
    if not isinstance(out, dict):
        errors.append("output must be an object")
        out = {}
    hub_repo_id = _optional_str(errors, out.get("hubRepoId"), "output.hubRepoId")
    volume = _optional_str(errors, out.get("networkVolumeId"), "output.networkVolumeId")
    hub_private = out.get("hubPrivate", True)
    if hub_private is None:
        hub_private = True
    if not isinstance(hub_private, bool):
        errors.append("output.hubPrivate must be a boolean")
        hub_private = True
    gateway = out.get("gateway")
    if gateway is None:
        # The gateway keeps the result when it goes nowhere else, so it is never stranded.
        gateway = not (hub_repo_id or volume)
    elif not isinstance(gateway, bool):
        errors.append("output.gateway must be a boolean")
        gateway = False
    on_complete = out.get("onComplete")
    if on_complete is None:
        # The result is delivered before the pod ends; STOP only when asked for.
        on_complete = "TERMINATE"
    elif on_complete not in ON_COMPLETE:
        errors.append(f"output.onComplete must be TERMINATE or STOP, got {on_complete!r}")

    if errors:
        raise ConfigError("invalid training config: " + "; ".join(errors))
    return TrainConfig(
        model_name=model_name,
        dataset_url=dataset_url,
        method=method,
        hyperparameters=hyper,
        output=OutputSpec(hub_repo_id, hub_private, volume, on_complete, gateway),
    )


def load_config(env: Mapping[str, str]) -> TrainConfig:
    """From TRAINGATE_CONFIG_FILE (a path) or TRAINGATE_CONFIG_B64 (base64 of the JSON)."""
    path = env.get("TRAINGATE_CONFIG_FILE")
    try:
        if path:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
        elif env.get("TRAINGATE_CONFIG_B64"):
            # Whitespace is dropped first: a renderer may wrap long base64 lines.
            encoded = "".join(env["TRAINGATE_CONFIG_B64"].split())
            text = base64.b64decode(encoded, validate=True).decode("utf-8")
        else:
            raise ConfigError("neither TRAINGATE_CONFIG_FILE nor TRAINGATE_CONFIG_B64 is set")
        raw = json.loads(text)
    except ConfigError:
        raise
    except (OSError, binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read the training config: {exc}") from exc
    return parse_config(raw)


def run_key(cfg: TrainConfig) -> str:
    """Names the checkpoint folder: a new deployment with the same job settings on the same
    network volume resumes; one with other settings never loads foreign checkpoints."""
    identity = {
        "model": cfg.model_name,
        "dataset": cfg.dataset_url,
        "method": cfg.method,
        "hp": dataclasses.asdict(cfg.hyperparameters),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=list).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Architectures and LoRA target modules
# ---------------------------------------------------------------------------------------------

_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

#: LoRA targets by `config.model_type`: attention and MLP projections, never the output head.
TARGET_MODULES: Dict[str, Tuple[str, ...]] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    # Mixtral's experts are w1/w2/w3 (router "gate" left out: it is tiny and unstable under LoRA).
    "mixtral": ("q_proj", "k_proj", "v_proj", "o_proj", "w1", "w2", "w3"),
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "gemma3": _LLAMA_LIKE,
    "gemma3_text": _LLAMA_LIKE,
    "phi": ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"),
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "gpt_neox": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    "falcon": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    # T5 v1.0 has wi/wo; T5 v1.1 and Flan-T5 split wi into wi_0/wi_1.
    "t5": ("q", "k", "v", "o", "wi", "wi_0", "wi_1", "wo"),
    "bert": ("query", "key", "value", "dense"),
}

#: Encoder-only families trained with masked-LM; encoder-decoders are found by config.
ENCODER_ONLY = frozenset({"bert", "roberta", "distilbert", "electra", "deberta", "deberta-v2"})

# Output heads must stay out of a generic LoRA target list: adapting them is rarely wanted and
# peft refuses some of them.
_HEAD_NAMES = frozenset({"lm_head", "embed_out", "score", "classifier", "output", "cls", "pooler"})
_LINEAR_CLASS_NAMES = frozenset({"Linear", "Conv1D", "Linear8bitLt", "Linear4bit", "LinearNF4", "QuantLinear"})


class UnknownArchitecture(ConfigError):
    pass


def detect_target_modules(
    model_type: Optional[str],
    override: Optional[Sequence[str]] = None,
    named_modules: Optional[Iterable[Tuple[str, Any]]] = None,
) -> List[str]:
    """LoRA target module names for `model_type`.

    Order of preference: the config's targetModules; the table above; for an architecture the
    table does not know, the names of the model's linear layers (when `named_modules` is given),
    output heads excluded. With none of these: UnknownArchitecture, naming targetModules as the fix.
    """
    if override:
        return list(override)
    known = TARGET_MODULES.get((model_type or "").lower())
    if known:
        return list(known)
    if named_modules is not None:
        found = linear_module_names(named_modules)
        if found:
            LOG.warning(
                "architecture %r is not in the LoRA table; targeting its linear layers: %s",
                model_type,
                ", ".join(found),
            )
            return found
    raise UnknownArchitecture(
        f"unknown model architecture {model_type!r}: set hyperparameters.targetModules to the names "
        f"of the layers to adapt (known: {', '.join(sorted(TARGET_MODULES))})"
    )


def linear_module_names(named_modules: Iterable[Tuple[str, Any]]) -> List[str]:
    """Distinct last name components of linear layers (nn.Linear, GPT-2 Conv1D, bitsandbytes)."""
    names: Set[str] = set()
    for qualified, module in named_modules:
        if not qualified or type(module).__name__ not in _LINEAR_CLASS_NAMES:
            continue
        leaf = qualified.rsplit(".", 1)[-1]
        if leaf in _HEAD_NAMES or leaf.isdigit():
            continue
        names.add(leaf)
    return sorted(names)


def model_kind(model_type: Optional[str], is_encoder_decoder: bool) -> str:
    """causal | seq2seq | masked: which AutoModel class and collator the model needs."""
    if is_encoder_decoder:
        return "seq2seq"
    if (model_type or "").lower() in ENCODER_ONLY:
        return "masked"
    return "causal"


#: Sub-modules of multimodal models (Gemma 3 4B and up, ...) that text-only LoRA leaves alone.
_NON_TEXT_TOWERS = ("vision_tower", "vision_model", "multi_modal_projector", "audio_tower")


def lora_target_modules(
    model_type: Optional[str],
    override: Optional[Sequence[str]],
    module_names: Sequence[Tuple[str, Any]],
) -> Any:
    """detect_target_modules, narrowed to the language model when the model also has a vision (or
    audio) tower whose layers share the table's names (Gemma3ForConditionalGeneration's SigLIP has
    q_proj/k_proj/v_proj): then a regex that peft matches against each module's full name."""
    names = detect_target_modules(model_type, override, module_names)
    towers = [t for t in _NON_TEXT_TOWERS if any(f".{t}." in f".{q}." for q, _ in module_names)]
    if override or not towers:
        return names
    leaves = "|".join(re.escape(n) for n in names)
    excluded = "|".join(re.escape(t) for t in towers)
    return rf"^(?!(?:.*\.)?(?:{excluded})\.).*\.(?:{leaves})$"


def has_fused_experts(parameter_names: Iterable[str]) -> bool:
    """True when MoE experts are stacked parameters (transformers 5's Mixtral: `experts.gate_up_proj`),
    not Linear modules: peft then adapts them through its ParamWrapper, which needs lora_dropout 0."""
    return any(re.search(r"\.experts\.(gate_up_proj|down_proj)$", name) for name in parameter_names)


# ---------------------------------------------------------------------------------------------
# Distributed runs (torchrun) and the Hub
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DistributedInfo:
    """This process's place in a torchrun launch (RANK/LOCAL_RANK/WORLD_SIZE); 0/0/1 without one."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "DistributedInfo":
        def number(key: str, default: int) -> int:
            value = (env.get(key) or "").strip()
            if not value:
                return default
            if not value.isdigit():
                raise ConfigError(f"{key} must be a non-negative integer, got {value!r}")
            return int(value)

        world = max(1, number("WORLD_SIZE", 1))
        rank = number("RANK", 0)
        if rank >= world:
            raise ConfigError(f"RANK {rank} is not below WORLD_SIZE {world}")
        return cls(rank=rank, local_rank=number("LOCAL_RANK", 0), world_size=world)


def check_distributed(cfg: TrainConfig, dist: DistributedInfo) -> None:
    """Quantized (bitsandbytes) models are placed whole on one GPU: no data-parallel training."""
    if dist.world_size > 1 and cfg.quantization_bits:
        raise ConfigError(
            f"{cfg.method} with quantization {cfg.hyperparameters.quantization} cannot run on {dist.world_size} "
            "processes (WORLD_SIZE > 1): quantized models train on one GPU; use one GPU, or LORA/FULL without "
            "quantization for several"
        )


def leave_process_group(wait_for_peers: bool) -> None:
    """Ends this rank's part in the torchrun process group before the interpreter exits. Left to the
    interpreter's teardown, gloo's threads can be destroyed while still joinable ("terminate called
    without an active exception", SIGABRT), and torchrun then reports a finished run as failed. After a
    run that ended normally every rank waits at a barrier first, so none leaves while rank 0 still writes
    the output; after a failure no rank waits for peers that may be gone."""
    try:
        import torch.distributed as torch_dist  # noqa: PLC0415
    except ImportError:
        return
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    try:
        if wait_for_peers and torch_dist.get_world_size() > 1:
            torch_dist.barrier()
    finally:
        torch_dist.destroy_process_group()


def all_ranks_any(flag: bool) -> bool:
    """True on every rank when it is True on any (a no-op without an initialised process group), so
    that a stop seen by rank 0 alone (the gateway's answer) ends every rank at the same step."""
    try:
        import torch  # noqa: PLC0415
        import torch.distributed as torch_dist  # noqa: PLC0415
    except ImportError:
        return flag
    if not (torch_dist.is_available() and torch_dist.is_initialized()) or torch_dist.get_world_size() < 2:
        return flag
    device = torch.device("cpu")
    if torch_dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    value = torch.tensor([1 if flag else 0], device=device)
    torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MAX)
    return bool(value.item())


def hub_access_problem(exc: BaseException, model_name: str) -> Optional[str]:
    """A readable message when loading `model_name` failed because the Hub refused access (401/403,
    gated or private repository); None for any other failure. Looks through the exception chain:
    transformers wraps huggingface_hub's errors in OSError."""
    seen: Set[int] = set()
    current: Optional[BaseException] = exc
    status: Optional[int] = None
    gated = False
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        response = getattr(current, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int) and code in (401, 403):
            status = code
        if name == "GatedRepoError" or "gated repo" in str(current).lower():
            gated = True
        current = current.__cause__ or current.__context__
    if status is None and not gated:
        return None
    what = f"HTTP {status}" if status else "gated repository"
    return (
        f"the Hugging Face Hub refused access to {model_name!r} ({what}): the model is gated or private. "
        "Accept the model's licence on its Hub page, and save a HUGGINGFACE token that can read it "
        "(provider secret HUGGINGFACE); then deploy again"
    )


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------

ALPACA_PROMPT = "### Instruction:\n{instruction}\n\n### Response:\n"
ALPACA_PROMPT_WITH_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"


@dataclasses.dataclass(frozen=True)
class Example:
    """One training example: the loss is taken on `completion` (on everything for plain text)."""

    prompt: str
    completion: str
    shape: str  # alpaca | chat | text
    templated: bool = False  # the chat template already added the special tokens

    @property
    def text(self) -> str:
        return self.prompt + self.completion


def read_dataset(path: str) -> List[Dict[str, Any]]:
    """Rows of a JSON file (a list, or an object holding a list under data/rows/train/examples)
    or of a JSONL file (one object per line; blank lines ignored)."""
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    stripped = text.lstrip()
    if not stripped:
        raise ConfigError("the dataset is empty")
    rows: Any = None
    try:
        rows = json.loads(stripped)
    except ValueError:
        rows = None
    if isinstance(rows, dict):
        for key in ("data", "rows", "train", "examples"):
            if isinstance(rows.get(key), list):
                rows = rows[key]
                break
        else:
            rows = [rows]  # JSONL with a single line
    if not isinstance(rows, list):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ConfigError(f"dataset line {number} is not valid JSON: {exc}") from exc
    bad = [i for i, row in enumerate(rows) if not isinstance(row, dict)]
    if bad:
        raise ConfigError(f"dataset row {bad[0] + 1} is not a JSON object")
    if not rows:
        raise ConfigError("the dataset has no rows")
    return rows


def row_shape(row: Mapping[str, Any]) -> str:
    if isinstance(row.get("messages"), list):
        return "chat"
    if "instruction" in row and "output" in row:
        return "alpaca"
    if isinstance(row.get("text"), str):
        return "text"
    raise ConfigError(
        "unrecognised dataset row: expected instruction/input/output (Alpaca), messages (chat) "
        f"or text; got keys {sorted(row)[:10]}"
    )


def _fallback_chat(messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool) -> str:
    parts = [f"### {str(m.get('role', 'user')).capitalize()}:\n{m.get('content', '')}\n\n" for m in messages]
    if add_generation_prompt:
        parts.append("### Assistant:\n")
    return "".join(parts)


def format_row(
    row: Mapping[str, Any],
    chat_template: Optional[Callable[[List[Dict[str, Any]], bool], str]] = None,
    eos_token: str = "",
) -> Example:
    """Turn one dataset row into prompt + completion.

    chat_template(messages, add_generation_prompt) is the tokenizer's template (None: the
    tokenizer has none, and a plain "### Role:" layout is used).
    """
    shape = row_shape(row)
    if shape == "alpaca":
        instruction = str(row.get("instruction") or "")
        extra = row.get("input")
        template = ALPACA_PROMPT_WITH_INPUT if extra not in (None, "") else ALPACA_PROMPT
        prompt = template.format(instruction=instruction, input=extra if extra is not None else "")
        return Example(prompt, str(row.get("output") or "") + eos_token, shape)
    if shape == "text":
        return Example("", str(row["text"]) + eos_token, shape)

    messages = []
    for message in row["messages"]:
        if not isinstance(message, dict) or "content" not in message:
            raise ConfigError("every chat message must be an object with role and content")
        messages.append({"role": str(message.get("role") or "user"), "content": message["content"]})
    if not messages:
        raise ConfigError("a chat row has no messages")
    last_is_assistant = messages[-1]["role"] == "assistant"
    head = messages[:-1] if last_is_assistant else messages
    if chat_template is not None:
        try:
            full = chat_template(messages, False)
            prompt = chat_template(head, True) if last_is_assistant else ""
            if last_is_assistant and full.startswith(prompt):
                return Example(prompt, full[len(prompt):], shape, templated=True)
            return Example("", full, shape, templated=True)
        except Exception as exc:  # noqa: BLE001 - a template can refuse e.g. a "system" role
            LOG.warning("chat template failed (%s); using the plain layout", exc)
    if last_is_assistant:
        return Example(_fallback_chat(head, True), str(messages[-1]["content"]) + eos_token, shape)
    return Example("", _fallback_chat(messages, False) + eos_token, shape)


def split_rows(rows: Sequence[Any], eval_split: float, seed: int = 42) -> Tuple[List[Any], List[Any]]:
    """Deterministic shuffle-split: a restarted run evaluates on the same rows."""
    rows = list(rows)
    if eval_split <= 0 or len(rows) < 2:
        return rows, []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(rows) - 1, max(1, int(round(len(rows) * eval_split))))
    eval_idx = set(order[:n_eval])
    train = [r for i, r in enumerate(rows) if i not in eval_idx]
    evaluation = [r for i, r in enumerate(rows) if i in eval_idx]
    return train, evaluation


def causal_features(prompt_ids: Sequence[int], completion_ids: Sequence[int], max_length: int) -> Optional[Dict[str, List[int]]]:
    """input_ids/labels with the prompt masked (-100); None when truncation left nothing to learn."""
    input_ids = list(prompt_ids) + list(completion_ids)
    labels = [-100] * len(prompt_ids) + list(completion_ids)
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    if all(label == -100 for label in labels):
        return None
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


# ---------------------------------------------------------------------------------------------
# Deadline, checkpoints, precision, TrainingArguments
# ---------------------------------------------------------------------------------------------


def parse_deadline(value: Optional[str]) -> Optional[_dt.datetime]:
    """BUDGET_DEADLINE as an aware UTC datetime; None when unset. A naive time is taken as UTC."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"BUDGET_DEADLINE is not an ISO-8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc)


def seconds_left(deadline: Optional[_dt.datetime], now: Optional[_dt.datetime] = None) -> Optional[float]:
    if deadline is None:
        return None
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return (deadline - now).total_seconds()


def stop_margin_seconds(save_seconds: Optional[float], step_seconds: Optional[float], base: float = 120.0) -> float:
    """How long before the deadline to stop: at least `base`, or enough for one more step and two
    saves (the checkpoint, then the output that bootstrap.sh delivers), whichever is longer."""
    estimate = 2 * (save_seconds or 0.0) + (step_seconds or 0.0)
    return max(base, estimate)


def deadline_reached(
    deadline: Optional[_dt.datetime],
    now: Optional[_dt.datetime] = None,
    save_seconds: Optional[float] = None,
    step_seconds: Optional[float] = None,
    base_margin: float = 120.0,
) -> bool:
    left = seconds_left(deadline, now)
    if left is None:
        return False
    return left <= stop_margin_seconds(save_seconds, step_seconds, base_margin)


_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def find_latest_checkpoint(directory: str) -> Optional[str]:
    """The `checkpoint-<step>` folder with the highest step that is complete (trainer_state.json
    is written last, so a folder without it was cut off mid-save and is skipped)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return None
    best: Optional[Tuple[int, str]] = None
    for name in entries:
        match = _CHECKPOINT_RE.match(name)
        path = os.path.join(directory, name)
        if not match or not os.path.isfile(os.path.join(path, "trainer_state.json")):
            continue
        step = int(match.group(1))
        if best is None or step > best[0]:
            best = (step, path)
    return best[1] if best else None


def choose_precision(cuda_available: bool, bf16_supported: bool) -> str:
    """bf16 where the GPU has it (Ampere and later), fp16 on older GPUs, fp32 without a GPU."""
    if not cuda_available:
        return "fp32"
    return "bf16" if bf16_supported else "fp16"


def version_tuple(version: str) -> Tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        parts.append(int(digits.group(0)) if digits else 0)
    return tuple(parts)


def dtype_kwarg(transformers_version: str) -> str:
    """from_pretrained's dtype argument: `torch_dtype` was renamed `dtype` in transformers 4.56."""
    return "dtype" if version_tuple(transformers_version) >= (4, 56) else "torch_dtype"


def estimate_total_steps(n_rows: int, batch_size: int, grad_accum: int, epochs: int, world_size: int = 1) -> int:
    per_epoch = math.ceil(n_rows / max(1, batch_size * world_size))
    return max(1, math.ceil(per_epoch / max(1, grad_accum)) * epochs)


def training_arguments_kwargs(
    cfg: TrainConfig,
    supported: Set[str],
    *,
    output_dir: str,
    has_eval: bool,
    precision: str,
    total_steps: int,
) -> Dict[str, Any]:
    """TrainingArguments kwargs for the installed transformers, whose names drifted over versions
    (`supported` is the parameter set of inspect.signature(TrainingArguments))."""
    hp = cfg.hyperparameters
    kwargs: Dict[str, Any] = {
        "output_dir": output_dir,
        "num_train_epochs": hp.epochs,
        "per_device_train_batch_size": hp.batch_size,
        "per_device_eval_batch_size": hp.batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "learning_rate": hp.learning_rate,
        "logging_steps": hp.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": hp.save_steps,
        "save_total_limit": 2,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "gradient_checkpointing": hp.gradient_checkpointing,
        "report_to": "none",
        "remove_unused_columns": False,
        "optim": "paged_adamw_8bit" if cfg.quantization_bits else "adamw_torch",
        "lr_scheduler_type": "cosine",
        "seed": 42,
    }
    if "warmup_ratio" in supported:
        kwargs["warmup_ratio"] = hp.warmup_ratio
    else:  # transformers 5 folded the ratio into warmup_steps
        kwargs["warmup_steps"] = int(math.ceil(hp.warmup_ratio * total_steps))
    if hp.gradient_checkpointing and "gradient_checkpointing_kwargs" in supported:
        # The non-reentrant variant works with frozen base weights (LoRA) and quantized models.
        kwargs["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    strategy_key = "eval_strategy" if "eval_strategy" in supported else "evaluation_strategy"
    if has_eval:
        kwargs[strategy_key] = "steps"
        kwargs["eval_steps"] = hp.save_steps
    else:
        kwargs[strategy_key] = "no"
    return {k: v for k, v in kwargs.items() if k in supported}


def trainer_tokenizer_kwarg(trainer_parameters: Set[str]) -> Optional[str]:
    """`processing_class` (transformers >= 4.46; the only one in 5.x) or the older `tokenizer`."""
    for name in ("processing_class", "tokenizer"):
        if name in trainer_parameters:
            return name
    return None


# ---------------------------------------------------------------------------------------------
# Stopping
# ---------------------------------------------------------------------------------------------


class StopController:
    """Decides when training must end early: a gateway stop, the budget deadline, or a signal."""

    def __init__(
        self,
        deadline: Optional[_dt.datetime],
        stop_event: Optional[threading.Event] = None,
        base_margin: float = 120.0,
        now: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc),
    ) -> None:
        self.deadline = deadline
        self.stop_event = stop_event or threading.Event()
        self.base_margin = base_margin
        self._now = now
        self.requested: Optional[str] = None
        # Why the last reason() said stop, as a code the gateway knows: CAUSE_BUDGET_DEADLINE, or None when
        # someone else asked (the gateway, a signal).
        self.cause: Optional[str] = None
        self.save_seconds: Optional[float] = None
        self.step_seconds: Optional[float] = None

    def request(self, reason: str) -> None:
        if self.requested is None:
            self.requested = reason

    def reason(self) -> Optional[str]:
        self.cause = None
        if self.requested:
            return self.requested
        if self.stop_event.is_set():
            return "the gateway asked the trainer to stop"
        if deadline_reached(self.deadline, self._now(), self.save_seconds, self.step_seconds, self.base_margin):
            self.cause = CAUSE_BUDGET_DEADLINE
            return "the budget deadline is near"
        return None

    def observe_step(self, seconds: float) -> None:
        # Exponential average: one slow step (a checkpoint, an eval) must not dominate.
        self.step_seconds = seconds if self.step_seconds is None else 0.8 * self.step_seconds + 0.2 * seconds

    def observe_save(self, seconds: float) -> None:
        self.save_seconds = max(seconds, self.save_seconds or 0.0)


class StopCallbackMixin:
    """Trainer callback: after each step, save a checkpoint and end training when told to."""

    def __init__(
        self,
        controller: StopController,
        clock: Callable[[], float] = time.monotonic,
        sync: Optional[Callable[[bool], bool]] = None,
    ) -> None:
        self.controller = controller
        self._clock = clock
        self._sync = sync  # under torchrun: all_ranks_any, so that every rank stops at the same step
        self._last_step_end: Optional[float] = None
        self.stopped_reason: Optional[str] = None
        self.stopped_cause: Optional[str] = None
        self.stopped_step: Optional[int] = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        now = self._clock()
        if self._last_step_end is not None:
            self.controller.observe_step(now - self._last_step_end)
        self._last_step_end = now
        reason = self.controller.reason()
        cause = self.controller.cause
        if self._sync is not None and self._sync(reason is not None) and not reason:
            reason = "another rank is stopping"
        if reason and self.stopped_reason is None:
            LOG.warning("stopping at step %s: %s; saving a checkpoint", getattr(state, "global_step", "?"), reason)
            self.stopped_reason = reason
            self.stopped_cause = cause
            self.stopped_step = int(getattr(state, "global_step", 0) or 0)
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self._last_step_end is not None:
            self.controller.observe_save(self._clock() - self._last_step_end)
        return control


def create_stop_callback(controller: StopController, sync: Optional[Callable[[bool], bool]] = None) -> StopCallbackMixin:
    try:
        from transformers import TrainerCallback  # noqa: PLC0415

        cls = type("TrainGateStopCallback", (StopCallbackMixin, TrainerCallback), {})
    except Exception:  # noqa: BLE001
        cls = type("TrainGateStopCallback", (StopCallbackMixin,), {})
    return cls(controller, sync=sync)


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Paths:
    workspace: str
    checkpoints: str
    output: str
    dataset: str
    stop_marker: str

    @classmethod
    def from_env(cls, env: Mapping[str, str], cfg: TrainConfig) -> "Paths":
        workspace = env.get("TRAINGATE_WORKSPACE") or "/workspace"
        dataset = env.get("TRAINGATE_DATASET_PATH") or os.path.join(workspace, "data", "dataset")
        return cls(
            workspace=workspace,
            checkpoints=os.path.join(workspace, "checkpoints", run_key(cfg)),
            output=os.path.join(workspace, "output"),
            dataset=dataset,
            stop_marker=os.path.join(workspace, STOP_MARKER),
        )


def replace_directory(staged: str, final: str) -> None:
    """Put `staged` in place of `final` so that output/ never mixes two runs' files."""
    old = final + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(final):
        os.replace(final, old)
    os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)


def write_stop_marker(path: str, reason: str, step: Optional[int], cause: Optional[str] = None) -> None:
    marker: Dict[str, Any] = {"reason": reason, "step": step}
    if cause:
        marker["cause"] = cause
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(marker, handle)


# ---------------------------------------------------------------------------------------------
# Training (heavy imports live here only)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunResult:
    stopped_reason: Optional[str] = None
    stopped_step: Optional[int] = None
    global_step: int = 0
    stopped_cause: Optional[str] = None


def _tokenize_examples(tokenizer: Any, examples: Sequence[Example], kind: str, max_length: int) -> List[Dict[str, List[int]]]:
    features: List[Dict[str, List[int]]] = []
    skipped = 0
    for example in examples:
        if kind == "seq2seq":
            if not example.prompt:
                raise ConfigError("encoder-decoder models need prompt/answer rows (Alpaca or chat), not plain text")
            source = tokenizer(example.prompt, truncation=True, max_length=max_length)
            target = tokenizer(text_target=example.completion, truncation=True, max_length=max_length)
            features.append(
                {"input_ids": source["input_ids"], "attention_mask": source["attention_mask"], "labels": target["input_ids"]}
            )
            continue
        if kind == "masked":
            encoded = tokenizer(example.text, truncation=True, max_length=max_length)
            features.append({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]})
            continue
        special = not example.templated  # a chat template already wrote BOS and friends
        prompt_ids = tokenizer(example.prompt, add_special_tokens=special)["input_ids"] if example.prompt else []
        completion_ids = tokenizer(
            example.completion, add_special_tokens=special and not example.prompt
        )["input_ids"]
        feature = causal_features(prompt_ids, completion_ids, max_length)
        if feature is None:
            skipped += 1
            continue
        features.append(feature)
    if skipped:
        LOG.warning("%d example(s) skipped: the prompt alone fills maxSeqLength", skipped)
    if not features:
        raise ConfigError("no usable training example: every prompt is longer than maxSeqLength")
    return features


def quantization_config(bits: int, compute_dtype: Any) -> Any:
    """transformers' BitsAndBytesConfig: 4-bit NF4 with double quantization (QLoRA), or 8-bit."""
    from transformers import BitsAndBytesConfig  # noqa: PLC0415

    if bits == 4:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def check_quantization_possible(cfg: TrainConfig, cuda: bool) -> None:
    """bitsandbytes quantization needs a CUDA GPU and the bitsandbytes package: refuse readably."""
    if not cfg.quantization_bits:
        return
    what = f"{cfg.method} ({cfg.quantization_bits}-bit quantization through bitsandbytes)"
    if not cuda:
        raise ConfigError(
            f"{what} needs a CUDA GPU and none is visible to torch on this machine: deploy on a GPU, "
            "or use method LORA/FULL with quantization NONE"
        )
    try:
        import bitsandbytes  # noqa: F401, PLC0415
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken CUDA setup inside bitsandbytes
        raise ConfigError(f"{what} needs the bitsandbytes package, which cannot be imported: {exc}") from exc


class TokenTypeIdsCollator:
    """Adds all-zero token_type_ids (every token is text) to each batch: Gemma 3's multimodal class
    (Gemma3ForConditionalGeneration, model_type gemma3) requires them in training in some
    transformers releases ("`token_type_ids` is required as a model input when training")."""

    def __init__(self, inner: Callable[[Any], Any]) -> None:
        self.inner = inner

    def __call__(self, features: Any) -> Any:
        batch = self.inner(features)
        if "token_type_ids" not in batch:
            import torch  # noqa: PLC0415

            batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        return batch


#: model_types whose model class takes token_type_ids to tell image tokens from text.
NEEDS_TOKEN_TYPE_IDS = frozenset({"gemma3"})


def _from_pretrained(loader: Callable[..., Any], model_name: str, **kwargs: Any) -> Any:
    """loader(model_name, ...), with the Hub refusing access turned into a readable ConfigError."""
    try:
        return loader(model_name, **kwargs)
    except Exception as exc:  # noqa: BLE001
        problem = hub_access_problem(exc, model_name)
        if problem:
            raise ConfigError(problem) from exc
        raise


def run_training(
    cfg: TrainConfig,
    paths: Paths,
    reporter: Any,
    controller: StopController,
    dist: Optional[DistributedInfo] = None,
) -> RunResult:
    import inspect  # noqa: PLC0415

    import torch  # noqa: PLC0415
    import transformers  # noqa: PLC0415
    from transformers import AutoConfig, AutoTokenizer, Trainer, TrainingArguments  # noqa: PLC0415

    import metrics_reporter  # noqa: PLC0415

    hp = cfg.hyperparameters
    dist = dist or DistributedInfo()
    if controller.reason():
        # Install and download ate the time that was left: leave before loading anything.
        return RunResult(stopped_reason=controller.reason(), stopped_step=0, stopped_cause=controller.cause)
    cuda = torch.cuda.is_available()
    check_quantization_possible(cfg, cuda)
    auto_config = _from_pretrained(AutoConfig.from_pretrained, cfg.model_name)
    model_type = getattr(auto_config, "model_type", None)
    kind = model_kind(model_type, bool(getattr(auto_config, "is_encoder_decoder", False)))
    if cfg.uses_lora and not hp.target_modules and model_type not in TARGET_MODULES:
        LOG.warning("architecture %r is not in the LoRA table; its linear layers will be used", model_type)

    # Data first: a bad dataset should fail before minutes of weight download.
    tokenizer = _from_pretrained(AutoTokenizer.from_pretrained, cfg.model_name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if kind == "causal":
        tokenizer.padding_side = "right"
    template = None
    if getattr(tokenizer, "chat_template", None):
        def template(messages: List[Dict[str, Any]], add_generation_prompt: bool) -> str:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    eos = tokenizer.eos_token if kind == "causal" and tokenizer.eos_token else ""
    rows = read_dataset(paths.dataset)
    examples = [format_row(row, template, eos) for row in rows]
    train_examples, eval_examples = split_rows(examples, hp.eval_split)
    train_features = _tokenize_examples(tokenizer, train_examples, kind, hp.max_seq_length)
    eval_features = _tokenize_examples(tokenizer, eval_examples, kind, hp.max_seq_length) if eval_examples else []
    LOG.info("dataset: %d training and %d evaluation examples", len(train_features), len(eval_features))

    precision = choose_precision(cuda, cuda and torch.cuda.is_bf16_supported())
    torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    load_kwargs: Dict[str, Any] = {dtype_kwarg(transformers.__version__): torch_dtype}
    bits = cfg.quantization_bits
    if bits:
        load_kwargs["quantization_config"] = quantization_config(bits, torch_dtype)
        # Quantized weights cannot be moved after loading: place them on this process's GPU now.
        # (LoRA and FULL get no device_map: Trainer moves the model, and under torchrun DDP places
        # one replica per process on its LOCAL_RANK GPU.)
        load_kwargs["device_map"] = {"": torch.cuda.current_device()}

    if kind == "seq2seq":
        from transformers import AutoModelForSeq2SeqLM as model_class  # noqa: PLC0415
        from transformers import DataCollatorForSeq2Seq  # noqa: PLC0415

        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    elif kind == "masked":
        from transformers import AutoModelForMaskedLM as model_class  # noqa: PLC0415
        from transformers import DataCollatorForLanguageModeling  # noqa: PLC0415

        collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=0.15)
    else:
        from transformers import AutoModelForCausalLM as model_class  # noqa: PLC0415
        from transformers import DataCollatorForSeq2Seq  # noqa: PLC0415

        # Pads input_ids and labels separately (labels with -100), so the eos token stays learnable
        # even when pad == eos, which DataCollatorForLanguageModeling would mask.
        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    if model_type in NEEDS_TOKEN_TYPE_IDS:
        collator = TokenTypeIdsCollator(collator)

    LOG.info("loading %s (%s, %s, %s)", cfg.model_name, kind, precision, f"{bits}-bit" if bits else "unquantized")
    model = _from_pretrained(model_class.from_pretrained, cfg.model_name, **load_kwargs)
    if hp.gradient_checkpointing and hasattr(model, "config"):
        model.config.use_cache = False  # the KV cache is useless in training and clashes with checkpointing

    if cfg.uses_lora:
        from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training  # noqa: PLC0415

        if bits:
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=hp.gradient_checkpointing
            )
        targets = lora_target_modules(model_type, hp.target_modules, list(model.named_modules()))
        task_type = {"causal": TaskType.CAUSAL_LM, "seq2seq": TaskType.SEQ_2_SEQ_LM}.get(kind)
        dropout = hp.lora_dropout
        if dropout and has_fused_experts(name for name, _ in model.named_parameters()):
            LOG.warning("the MoE experts are fused parameters: peft adapts them only with lora_dropout 0 (was %s)", dropout)
            dropout = 0.0
        lora = LoraConfig(
            r=hp.lora_r,
            lora_alpha=hp.lora_alpha,
            lora_dropout=dropout,
            target_modules=targets,
            bias="none",
            task_type=task_type,
        )
        model = get_peft_model(model, lora)
        if hp.gradient_checkpointing and hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()  # checkpointing needs a grad path through frozen embeddings
        if dist.is_main:
            model.print_trainable_parameters()

    if controller.reason():
        # The deadline came while the weights loaded: leave without training.
        return RunResult(stopped_reason=controller.reason(), stopped_step=0, stopped_cause=controller.cause)

    if dist.world_size > 1:
        world_size = dist.world_size  # torchrun: one process per GPU (DDP)
    else:  # one process: Trainer uses every visible GPU (DataParallel), except for quantized models
        world_size = max(1, torch.cuda.device_count()) if cuda and not bits else 1
    total_steps = estimate_total_steps(len(train_features), hp.batch_size, hp.gradient_accumulation_steps, hp.epochs, world_size)
    supported = set(inspect.signature(TrainingArguments.__init__).parameters)
    args = TrainingArguments(
        **training_arguments_kwargs(
            cfg,
            supported,
            output_dir=paths.checkpoints,
            has_eval=bool(eval_features),
            precision=precision,
            total_steps=total_steps,
        )
    )

    try:
        from datasets import Dataset  # noqa: PLC0415

        train_dataset: Any = Dataset.from_list(train_features)
        eval_dataset: Any = Dataset.from_list(eval_features) if eval_features else None
    except ImportError:
        train_dataset, eval_dataset = train_features, (eval_features or None)

    stop_callback = create_stop_callback(controller, sync=all_ranks_any if dist.world_size > 1 else None)
    callbacks: List[Any] = [stop_callback]
    if dist.is_main:  # one report per step, from rank 0
        callbacks.insert(0, metrics_reporter.create_callback(reporter))
    trainer_kwargs: Dict[str, Any] = {
        "model": model,
        "args": args,
        "train_dataset": train_dataset,
        "eval_dataset": eval_dataset,
        "data_collator": collator,
        "callbacks": callbacks,
    }
    tokenizer_key = trainer_tokenizer_kwarg(set(inspect.signature(Trainer.__init__).parameters))
    if tokenizer_key:
        trainer_kwargs[tokenizer_key] = tokenizer
    trainer = Trainer(**trainer_kwargs)

    os.makedirs(paths.checkpoints, exist_ok=True)
    checkpoint = find_latest_checkpoint(paths.checkpoints)
    if checkpoint:
        LOG.info("resuming from %s", checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)

    result = RunResult(
        stop_callback.stopped_reason,
        stop_callback.stopped_step,
        int(trainer.state.global_step),
        stop_callback.stopped_cause,
    )
    staged = paths.output + ".tmp"
    if dist.is_main:
        shutil.rmtree(staged, ignore_errors=True)
    # Every rank calls save_model (it may gather a sharded model); only rank 0 writes files.
    trainer.save_model(staged)  # the adapter only for a PeftModel, the full model otherwise
    if not dist.is_main:
        return result
    tokenizer.save_pretrained(staged)
    with open(os.path.join(staged, "traingate_training.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "base_model": cfg.model_name,
                "method": cfg.method,
                "quantization": hp.quantization,
                "global_step": result.global_step,
                "stopped_early": result.stopped_reason,
                "world_size": dist.world_size,
                "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
                "hyperparameters": dataclasses.asdict(hp),
            },
            handle,
            indent=2,
            default=list,
        )
    replace_directory(staged, paths.output)
    return result


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def main(env: Optional[Mapping[str, str]] = None) -> int:
    env = os.environ if env is None else env
    logging.basicConfig(
        level=os.environ.get("TRAINGATE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        cfg = load_config(env)
        deadline = parse_deadline(env.get("BUDGET_DEADLINE"))
        dist = DistributedInfo.from_env(env)
        check_distributed(cfg, dist)
    except ConfigError as exc:
        print(f"traingate: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    paths = Paths.from_env(env, cfg)

    import metrics_reporter  # noqa: PLC0415

    # Under torchrun only rank 0 talks to the gateway; the others get a reporter that sends nothing.
    reporter = metrics_reporter.MetricsReporter.from_env(env if dist.is_main else {})
    margin = float(env.get("TRAINGATE_DEADLINE_MARGIN_SECONDS") or 120)
    controller = StopController(deadline, reporter.stop_requested, base_margin=margin)

    def on_signal(signum: int, _frame: Any) -> None:
        controller.request(f"received {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    finished = False
    try:
        result = run_training(cfg, paths, reporter, controller, dist)
        finished = True
    except ConfigError as exc:
        print(f"traingate: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 - turned into exit code 1 with the traceback
        LOG.exception("training failed")
        print(f"traingate: training failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        reporter.close(timeout=float(env.get("TRAINGATE_METRICS_CLOSE_SECONDS") or 30))
        leave_process_group(wait_for_peers=finished)

    if result.stopped_reason:
        if dist.is_main:
            write_stop_marker(paths.stop_marker, result.stopped_reason, result.stopped_step, result.stopped_cause)
        print(f"traingate: stopped early at step {result.stopped_step}: {result.stopped_reason}", file=sys.stderr)
        return EXIT_STOPPED
    print(f"traingate: training finished after {result.global_step} steps", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
