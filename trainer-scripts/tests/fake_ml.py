"""Minimal stand-ins for torch, transformers and peft, so that train.py's wiring runs here.

They model only what train.py relies on: the Trainer loop calls callbacks the way transformers
does (on_train_begin, on_step_end, on_log, on_save, on_train_end, honouring should_save and
should_training_stop), writes checkpoint-<step>/trainer_state.json, and resumes from a given
checkpoint. TrainingArguments has an explicit signature (no **kwargs), so an argument that the
installed transformers would not know fails here too.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import types
from typing import Any, Dict, List, Optional


class Recorder:
    def __init__(self) -> None:
        self.from_pretrained_kwargs: Dict[str, Any] = {}
        self.training_args: Optional[Any] = None
        self.trainer: Optional[Any] = None
        self.lora_config: Optional[Dict[str, Any]] = None
        self.kbit_prepared = False
        self.bnb_config: Optional[Dict[str, Any]] = None
        self.auto_config_calls = 0
        self.step_hook = None  # called as step_hook(trainer, step) after each step's callbacks


class Linear:
    pass


class LayerNorm:
    pass


def build(model_config: Dict[str, Any], recorder: Recorder, training_args_params: Optional[List[str]] = None) -> Dict[str, types.ModuleType]:
    torch = types.ModuleType("torch")
    torch.bfloat16, torch.float16, torch.float32 = "bfloat16", "float16", "float32"
    torch.cuda = types.SimpleNamespace(
        is_available=lambda: False, is_bf16_supported=lambda: False, device_count=lambda: 0, current_device=lambda: 0
    )

    transformers = types.ModuleType("transformers")
    transformers.__version__ = "4.57.1"

    class AutoConfig:
        @staticmethod
        def from_pretrained(name: str, **kwargs: Any) -> Any:
            recorder.auto_config_calls += 1
            return types.SimpleNamespace(**model_config)

    class Tokenizer:
        pad_token = None
        eos_token = "</s>"
        unk_token = "<unk>"
        chat_template = None
        padding_side = "left"

        def __call__(self, text=None, text_target=None, add_special_tokens=True, truncation=False, max_length=None):
            source = text if text is not None else text_target
            ids = ([1] if add_special_tokens else []) + [ord(c) % 250 + 3 for c in source]
            if truncation and max_length:
                ids = ids[:max_length]
            return {"input_ids": ids, "attention_mask": [1] * len(ids)}

        def save_pretrained(self, directory: str) -> None:
            with open(os.path.join(directory, "tokenizer_config.json"), "w") as handle:
                json.dump({"pad_token": self.pad_token, "padding_side": self.padding_side}, handle)

    class AutoTokenizer:
        @staticmethod
        def from_pretrained(name: str, **kwargs: Any) -> Tokenizer:
            return Tokenizer()

    class Model:
        def __init__(self) -> None:
            self.config = types.SimpleNamespace(use_cache=True, model_type=model_config.get("model_type"))

        def named_modules(self):
            yield "", self
            for layer in range(2):
                for name in ("q_proj", "k_proj", "v_proj", "o_proj", "in_proj", "out_proj"):
                    yield f"model.layers.{layer}.{name}", Linear()
                yield f"model.layers.{layer}.norm", LayerNorm()
            yield "lm_head", Linear()

        def print_trainable_parameters(self) -> None:
            pass

        def enable_input_require_grads(self) -> None:
            pass

    class AutoModel:
        @staticmethod
        def from_pretrained(name: str, **kwargs: Any) -> Model:
            recorder.from_pretrained_kwargs = kwargs
            return Model()

    class BitsAndBytesConfig:
        def __init__(self, **kwargs: Any) -> None:
            recorder.bnb_config = kwargs

    class DataCollatorForSeq2Seq:
        def __init__(self, tokenizer: Any, padding: bool = True, label_pad_token_id: int = -100) -> None:
            self.label_pad_token_id = label_pad_token_id

    class DataCollatorForLanguageModeling:
        def __init__(self, tokenizer: Any, mlm: bool = True, mlm_probability: float = 0.15) -> None:
            self.mlm = mlm

    class TrainerCallback:
        pass

    params = training_args_params or [
        "output_dir", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
        "gradient_accumulation_steps", "learning_rate", "warmup_ratio", "warmup_steps", "logging_steps",
        "logging_first_step", "save_strategy", "save_steps", "save_total_limit", "bf16", "fp16",
        "gradient_checkpointing", "gradient_checkpointing_kwargs", "report_to", "remove_unused_columns",
        "optim", "lr_scheduler_type", "seed", "eval_strategy", "eval_steps",
    ]

    def training_args_init(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)
        recorder.training_args = self

    training_args_init.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=None) for p in params]
    )

    def checked_init(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(f"TrainingArguments got unexpected keyword arguments {sorted(unknown)}")
        training_args_init(self, **kwargs)

    checked_init.__signature__ = training_args_init.__signature__
    TrainingArguments = type("TrainingArguments", (), {"__init__": checked_init})

    class Trainer:
        def __init__(self, model=None, args=None, train_dataset=None, eval_dataset=None, data_collator=None,
                     callbacks=None, processing_class=None) -> None:
            self.model, self.args = model, args
            self.train_dataset, self.eval_dataset = train_dataset, eval_dataset
            self.callbacks = callbacks or []
            self.processing_class = processing_class
            self.state = types.SimpleNamespace(global_step=0, max_steps=0, epoch=0.0)
            self.resumed_from: Optional[str] = None
            recorder.trainer = self

        def _event(self, name: str, control: Any, **kwargs: Any) -> None:
            for callback in self.callbacks:
                result = getattr(callback, name)(self.args, self.state, control, **kwargs)
                if result is not None:
                    control = result

        def train(self, resume_from_checkpoint: Optional[str] = None) -> None:
            self.resumed_from = resume_from_checkpoint
            args = self.args
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
            steps_per_epoch = max(1, math.ceil(len(self.train_dataset) / per_step))
            self.state.max_steps = steps_per_epoch * args.num_train_epochs
            start = int(re.search(r"checkpoint-(\d+)$", resume_from_checkpoint).group(1)) if resume_from_checkpoint else 0
            self.state.global_step = start
            control = types.SimpleNamespace(should_save=False, should_training_stop=False, should_log=False)
            self._event("on_train_begin", control)
            for step in range(start + 1, self.state.max_steps + 1):
                self.state.global_step, self.state.epoch = step, step / steps_per_epoch
                control.should_save = step % args.save_steps == 0
                self._event("on_step_end", control)
                if step % args.logging_steps == 0 or (step == 1 and args.logging_first_step):
                    logs = {"loss": round(2.0 / step, 4), "grad_norm": 0.5, "learning_rate": args.learning_rate, "epoch": self.state.epoch}
                    self._event("on_log", control, logs=logs)
                if control.should_save:
                    directory = os.path.join(args.output_dir, f"checkpoint-{step}")
                    os.makedirs(directory, exist_ok=True)
                    with open(os.path.join(directory, "trainer_state.json"), "w") as handle:
                        json.dump({"global_step": step}, handle)
                    self._event("on_save", control)
                if recorder.step_hook:
                    recorder.step_hook(self, step)
                if control.should_training_stop:
                    break
            self._event("on_log", control, logs={"train_runtime": 1.0, "train_loss": 0.5})
            self._event("on_train_end", control)

        def save_model(self, directory: str) -> None:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, "adapter_model.safetensors"), "wb") as handle:
                handle.write(b"weights")
            with open(os.path.join(directory, "adapter_config.json"), "w") as handle:
                json.dump(getattr(self.model, "peft_config", {}) or {}, handle)

    for name, value in {
        "AutoConfig": AutoConfig, "AutoTokenizer": AutoTokenizer, "AutoModelForCausalLM": AutoModel,
        "AutoModelForSeq2SeqLM": AutoModel, "AutoModelForMaskedLM": AutoModel,
        "BitsAndBytesConfig": BitsAndBytesConfig, "DataCollatorForSeq2Seq": DataCollatorForSeq2Seq,
        "DataCollatorForLanguageModeling": DataCollatorForLanguageModeling, "TrainerCallback": TrainerCallback,
        "TrainingArguments": TrainingArguments, "Trainer": Trainer,
    }.items():
        setattr(transformers, name, value)

    peft = types.ModuleType("peft")
    peft.TaskType = types.SimpleNamespace(CAUSAL_LM="CAUSAL_LM", SEQ_2_SEQ_LM="SEQ_2_SEQ_LM")

    def lora_config(**kwargs: Any) -> Dict[str, Any]:
        recorder.lora_config = kwargs
        return kwargs

    def get_peft_model(model: Any, config: Any) -> Any:
        model.peft_config = {k: v for k, v in config.items() if k != "task_type"}
        return model

    def prepare_model_for_kbit_training(model: Any, use_gradient_checkpointing: bool = True) -> Any:
        recorder.kbit_prepared = True
        return model

    peft.LoraConfig = lora_config
    peft.get_peft_model = get_peft_model
    peft.prepare_model_for_kbit_training = prepare_model_for_kbit_training
    # datasets is left out on purpose: train.py then trains on plain lists, as it would without it.
    return {"torch": torch, "transformers": transformers, "peft": peft, "datasets": None}

