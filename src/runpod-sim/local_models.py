"""Builds the models and datasets that the RunPod simulator's local pods train on, offline.

    python local_models.py <folder>

Run with the pod venv's Python (torch, transformers, tokenizers). Writes, once (a `.complete` file marks a
finished build; a rebuild happens only when the folder lacks it or FORMAT changes):

- <folder>/hub/models--traingate--tiny-random-llama/: a Hugging Face hub cache entry (refs/main and
  snapshots/<revision>/) holding a random-weight two-layer llama and a byte-level BPE tokenizer with a ChatML
  chat template, trained here on the dataset's own text. A process with HF_HUB_CACHE=<folder>/hub and
  HF_HUB_OFFLINE=1 loads it by name, exactly as it would load a model downloaded from the Hub.
- <folder>/datasets/tiny-arithmetic/train.jsonl: chat rows ("what is 3 plus 4?" -> "7") in few enough
  shapes that the tiny model learns them within a few dozen steps, so the loss falls visibly.
- <folder>/manifest.json: what was built (names, parameter counts, byte sizes), for the simulator to serve.

Prints the manifest on stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

FORMAT = "1"
OWNER = "traingate"
MODEL = "tiny-random-llama"
DATASET = "tiny-arithmetic"
# A fixed revision id, as the Hub's 40-hex commit ids look.
REVISION = "0123456789abcdef0123456789abcdef01234567"
VOCAB = 320
CHATML = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIALS = ["<pad>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def dataset_rows():
    rows = []
    for a in range(10):
        for b in range(10):
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": f"what is {a} plus {b}?"},
                        {"role": "assistant", "content": f"{a} plus {b} is {a + b}."},
                    ]
                }
            )
    return rows


def build_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
        model_max_length=256,
    )
    fast.chat_template = CHATML
    return fast


def build(folder):
    import torch
    import transformers

    rows = dataset_rows()
    texts = [m["content"] for r in rows for m in r["messages"]] + ["user", "assistant"]
    tokenizer = build_tokenizer(texts)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=max(VOCAB, len(tokenizer)),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    model = transformers.LlamaForCausalLM(config)
    entry = os.path.join(folder, "hub", f"models--{OWNER}--{MODEL}")
    snapshot = os.path.join(entry, "snapshots", REVISION)
    os.makedirs(os.path.join(entry, "refs"), exist_ok=True)
    model.save_pretrained(snapshot)
    tokenizer.save_pretrained(snapshot)
    with open(os.path.join(entry, "refs", "main"), "w", encoding="utf-8") as handle:
        handle.write(REVISION)

    data = os.path.join(folder, "datasets", DATASET)
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "train.jsonl"), "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")

    parameters = sum(p.numel() for p in model.parameters())
    weights = sum(
        os.path.getsize(os.path.join(snapshot, name)) for name in os.listdir(snapshot) if name.endswith(".safetensors")
    )
    return {
        "format": FORMAT,
        "models": [
            {"id": f"{OWNER}/{MODEL}", "revision": REVISION, "parameters": parameters, "dtype": "F32", "bytes": weights}
        ],
        "datasets": [{"id": f"{OWNER}/{DATASET}", "files": ["train.jsonl"], "rows": len(rows)}],
    }


def main():
    if len(sys.argv) != 2:
        print("usage: local_models.py <folder>", file=sys.stderr)
        return 2
    folder = os.path.abspath(sys.argv[1])
    manifest_path = os.path.join(folder, "manifest.json")
    if os.path.isfile(os.path.join(folder, ".complete")):
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        if manifest.get("format") == FORMAT:
            print(json.dumps(manifest))
            return 0
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    # Built aside and renamed into place: a reader never sees half a model.
    scratch = tempfile.mkdtemp(prefix=".local-models-", dir=parent)
    try:
        manifest = build(scratch)
        with open(os.path.join(scratch, "manifest.json"), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle)
        with open(os.path.join(scratch, ".complete"), "w", encoding="utf-8") as handle:
            handle.write("ok\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
