"""Stands in for train.py in the bootstrap tests (the real one needs torch and a GPU).

The test's python3 stub runs this instead of train.py; every other Python call of bootstrap.sh
(config parsing, hub_push.py) runs the real code. FAKE_TRAIN_MODE picks the outcome:
  ok    write an adapter to <workspace>/output and exit 0
  fail  print an error naming the model and exit 1
  stop  write a partial adapter and the stop marker, exit 3 (train.py's "stopped" contract)
What it saw (config, dataset, which secrets were visible) goes to <workspace>/fake-trainer-seen.json.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import train  # noqa: E402 - the real config parser: the config must arrive intact

workspace = os.environ["TRAINGATE_WORKSPACE"]
cfg = train.load_config(os.environ)
dataset = os.environ["TRAINGATE_DATASET_PATH"]
with open(dataset, "rb") as handle:
    data = handle.read()
with open(os.path.join(workspace, "fake-trainer-seen.json"), "w", encoding="utf-8") as handle:
    json.dump(
        {
            "model_name": cfg.model_name,
            "target_modules": list(cfg.hyperparameters.target_modules or []),
            "dataset_path": dataset,
            "dataset": data.decode("utf-8"),
            "runpod_key_visible": "RUNPOD_API_KEY" in os.environ,
            "job_token_visible": "JOB_TOKEN" in os.environ,
            "deadline": os.environ.get("BUDGET_DEADLINE"),
        },
        handle,
    )

mode = os.environ.get("FAKE_TRAIN_MODE", "ok")
print("loading model and dataset")
if mode == "fail":
    print("Traceback (most recent call last):", file=sys.stderr)
    print(f"OSError: cannot load model {cfg.model_name}", file=sys.stderr)
    sys.exit(1)

output = os.path.join(workspace, "output")
os.makedirs(output, exist_ok=True)
with open(os.path.join(output, "adapter_config.json"), "w", encoding="utf-8") as handle:
    json.dump({"base_model_name_or_path": cfg.model_name, "r": cfg.hyperparameters.lora_r}, handle)
with open(os.path.join(output, "adapter_model.safetensors"), "wb") as handle:
    handle.write(bytes(range(256)) * 12)  # 3 KiB: over the fake Hub's LFS threshold
if mode == "stop":
    with open(os.path.join(workspace, ".traingate-stopped"), "w", encoding="utf-8") as handle:
        json.dump({"reason": "the gateway asked the trainer to stop", "step": 40}, handle)
    sys.exit(3)
print("training finished after 100 steps")
