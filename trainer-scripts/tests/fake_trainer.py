"""Stands in for train.py in the bootstrap tests (the real one needs torch and a GPU).

The test's python3 stub runs this instead of train.py; every other Python call of bootstrap.sh
(config parsing, hub_push.py) runs the real code. FAKE_TRAIN_MODE picks the outcome:
  ok    write an adapter to <workspace>/output and exit 0
  fail  print an error naming the model and exit 1
  stop  write a partial adapter and the stop marker, exit 3 (train.py's "stopped" contract)
  deadline  the same, stopped by itself at BUDGET_DEADLINE: the marker's "cause" is "budget_deadline"
  wait  write <workspace>/fake-trainer-started, then train until SIGTERM/SIGINT: on one, save a
        "checkpoint", write the partial adapter and the stop marker and exit 3, as train.py does
What it saw (config, dataset, which secrets were visible) goes to <workspace>/fake-trainer-seen.json.
"""

import json
import os
import signal
import sys
import time

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
            "hf_token_visible": bool(os.environ.get("HF_TOKEN")),
            "hf_home": os.environ.get("HF_HOME"),
            "torch_home": os.environ.get("TORCH_HOME"),
            "triton_cache_dir": os.environ.get("TRITON_CACHE_DIR"),
        },
        handle,
    )

mode = os.environ.get("FAKE_TRAIN_MODE", "ok")
print("loading model and dataset")
if mode == "fail":
    print("Traceback (most recent call last):", file=sys.stderr)
    print(f"OSError: cannot load model {cfg.model_name}", file=sys.stderr)
    sys.exit(1)

stop_reason = ""
if mode == "wait":
    signals = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: signals.append(signal.Signals(signum).name))
    with open(os.path.join(workspace, "fake-trainer-started"), "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not signals and time.monotonic() < deadline:
        time.sleep(0.02)
    if not signals:
        sys.exit(9)
    checkpoint = os.path.join(workspace, "checkpoints", "run", "checkpoint-7")
    os.makedirs(checkpoint, exist_ok=True)
    with open(os.path.join(checkpoint, "trainer_state.json"), "w", encoding="utf-8") as handle:
        json.dump({"global_step": 7, "signal": signals[0]}, handle)
    stop_reason = f"received {signals[0]}"
    mode = "stop"

output = os.path.join(workspace, "output")
os.makedirs(output, exist_ok=True)
with open(os.path.join(output, "adapter_config.json"), "w", encoding="utf-8") as handle:
    json.dump({"base_model_name_or_path": cfg.model_name, "r": cfg.hyperparameters.lora_r}, handle)
with open(os.path.join(output, "adapter_model.safetensors"), "wb") as handle:
    handle.write(bytes(range(256)) * 12)  # 3 KiB: over the fake Hub's LFS threshold
if mode == "deadline":
    with open(os.path.join(workspace, ".traingate-stopped"), "w", encoding="utf-8") as handle:
        json.dump({"reason": "the budget deadline is near", "step": 40, "cause": "budget_deadline"}, handle)
    sys.exit(3)
if mode == "stop":
    with open(os.path.join(workspace, ".traingate-stopped"), "w", encoding="utf-8") as handle:
        json.dump({"reason": stop_reason or "the gateway asked the trainer to stop", "step": 7 if stop_reason else 40}, handle)
    sys.exit(3)
print("training finished after 100 steps")
