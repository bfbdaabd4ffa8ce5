"""The body of gpu-smoke.sh: see that script. Runs bootstrap.sh for each (method, model) case."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from tests.support import LocalServer, Reply
from tests_real import fixtures

SCRIPTS = fixtures.SCRIPTS


class Gateway:
    """The gateway's pod routes, permissive: records metric points and status reports."""

    def __init__(self) -> None:
        self.points: List[Dict[str, Any]] = []
        self.statuses: List[Dict[str, Any]] = []
        self.server = LocalServer(self.app)

    def app(self, request: Any) -> Reply:
        if request.path.endswith("/metrics"):
            body = request.json()
            self.points.extend(body.get("metrics") or [body])
            return Reply(200, {"status": "ok", "accepted": 1, "stop": False})
        if request.path.endswith("/status"):
            self.statuses.append(request.json())
            return Reply(200, {"status": "ok", "stop": False})
        if request.path.endswith("/artifact"):
            return Reply(200, {"status": "ok", "received": len(request.body), "complete": True})
        return Reply(404, {"error": "no route"})


def half_billion_model(root: str) -> str:
    """A Qwen2-0.5B-shaped random model (about 494M parameters), bf16 on disk, built from its config."""
    path = os.path.join(root, "qwen2-0.5b-random")
    if os.path.isdir(path):
        return path
    import torch  # noqa: PLC0415
    from transformers import Qwen2Config, Qwen2ForCausalLM  # noqa: PLC0415

    tok = fixtures.load_tokenizer()
    config = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def bitsandbytes_imports(python: str) -> bool:
    return subprocess.run([python, "-c", "import bitsandbytes"], capture_output=True).returncode == 0


def run_case(python: str, method: str, label: str, model: str, rows: int, hp: Dict[str, Any], scratch: str) -> Dict[str, Any]:
    gateway = Gateway()
    runpod = LocalServer(lambda request: Reply(200, {}))
    dataset = fixtures.encode_rows(fixtures.mixed_rows(rows), "jsonl")
    data_server = LocalServer(lambda request: Reply(200, dataset, {"Content-Type": "application/x-ndjson"}))
    workspace = tempfile.mkdtemp(prefix=f"smoke-{method.lower()}-{label}-", dir=scratch)
    config = fixtures.job_config(model, dataset_url=f"{data_server.url}/train.jsonl", method=method, **hp)
    config["output"] = {"onComplete": "STOP"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINGATE_", "JOB_", "METRICS_", "RUNPOD_"))}
    env.update(fixtures.OFFLINE_ENV)
    env.update(
        {
            "JOB_ID": f"smoke-{method.lower()}-{label}",
            "JOB_TOKEN": "smoke-token",
            "METRICS_API_URL": f"{gateway.server.url}/api/training/jobs",
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(config).encode()).decode(),
            "TRAINGATE_HOME": SCRIPTS,
            "TRAINGATE_WORKSPACE": workspace,
            "TRAINGATE_PYTHON": python,
            "TRAINGATE_PIP": "true",  # nothing is installed: the machine has no network
            "RUNPOD_REST_URL": runpod.url,
            "RUNPOD_POD_ID": "smoke-pod",
            "RUNPOD_API_KEY": "smoke-key",
            "TRAINGATE_RETRY_BASE_SECONDS": "0.1",
            "TRAINGATE_METRICS_FLUSH_SECONDS": "0.5",
            "HF_HOME": os.path.join(workspace, ".hf-home"),
        }
    )
    started = time.monotonic()
    done = subprocess.run(["bash", os.path.join(SCRIPTS, "bootstrap.sh")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    for server in (gateway.server, runpod, data_server):
        server.close()
    output = os.path.join(workspace, "output")
    summary: Dict[str, Any] = {}
    if os.path.isfile(os.path.join(output, "traingate_training.json")):
        with open(os.path.join(output, "traingate_training.json")) as handle:
            summary = json.load(handle)
    size = 0
    if os.path.isdir(output):
        size = sum(os.path.getsize(os.path.join(output, n)) for n in os.listdir(output) if n.endswith(".safetensors"))
    losses = [p["loss"] for p in sorted(gateway.points, key=lambda p: p["step"]) if isinstance(p.get("loss"), (int, float))]
    outcome = gateway.statuses[-1]["status"] if gateway.statuses else "no status"
    return {
        "method": method,
        "model": label,
        "steps": summary.get("global_step"),
        "seconds": round(seconds, 1),
        "peak_gpu_gb": summary.get("peak_gpu_memory_gb"),
        "final_loss": round(losses[-1], 4) if losses else None,
        "result_mb": round(size / 2**20, 2),
        "outcome": outcome,
        "exit": done.returncode,
        "log_tail": done.stdout.decode("utf-8", "replace")[-3000:],
    }


def table(results: List[Dict[str, Any]]) -> str:
    columns = ["method", "model", "steps", "seconds", "peak_gpu_gb", "final_loss", "result_mb", "outcome"]
    rows = [[str(r.get(c)) for c in columns] for r in results]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    line = lambda cells: "| " + " | ".join(cell.ljust(w) for cell, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(row) for row in rows])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpu", action="store_true", help="the tiny model only, LORA and FULL, without a GPU")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    python = os.environ.get("TRAINGATE_PYTHON") or sys.executable
    import torch  # noqa: PLC0415
    import transformers  # noqa: PLC0415

    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else "CPU"
    print(f"gpu-smoke: torch {torch.__version__}, transformers {transformers.__version__}, {device}", flush=True)
    if not cuda and not args.cpu:
        print("gpu-smoke: no CUDA device: run with --cpu for the small CPU variant", file=sys.stderr)
        return 2
    scratch = tempfile.mkdtemp(prefix="traingate-gpu-smoke-")
    try:
        tiny = fixtures.model_dir("llama")
        cases = [("LORA", "tiny-llama", tiny, 16, {}), ("FULL", "tiny-llama", tiny, 16, {})]
        if not args.cpu:
            big = half_billion_model(os.path.join(fixtures._cache_root(), "gpu-smoke"))
            hp = {"batchSize": 4, "maxSeqLength": 256, "gradientCheckpointing": True}
            cases += [("LORA", "qwen2-0.5b", big, 64, hp), ("FULL", "qwen2-0.5b", big, 64, hp)]
            if bitsandbytes_imports(python):
                cases += [("QLORA", "tiny-llama", tiny, 16, {}), ("QLORA", "qwen2-0.5b", big, 64, hp)]
            else:
                print("gpu-smoke: bitsandbytes does not import here: QLORA left out", flush=True)
        results = []
        for method, label, model, rows, hp in cases:
            result = run_case(python, method, label, model, rows, hp, scratch)
            print(f"gpu-smoke: {method} {label}: {result['outcome']} in {result['seconds']} s", flush=True)
            if result["outcome"] != "completed":
                print(result["log_tail"], file=sys.stderr)
            results.append(result)
        print(table(results))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump([{k: v for k, v in r.items() if k != "log_tail"} for r in results], handle, indent=2)
        return 0 if all(r["outcome"] == "completed" for r in results) else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
