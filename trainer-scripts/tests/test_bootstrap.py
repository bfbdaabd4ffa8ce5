"""bootstrap.sh run for real, with local fakes for the gateway, RunPod's REST API and the Hub.

Only two things are stubbed: `pip` (no package index here) and the training run itself (a
python3 wrapper runs tests/fake_trainer.py when asked for train.py and hands every other call,
config parsing and hub_push.py included, to the real interpreter).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import unittest
from typing import Any, Dict, List, Optional

from tests.support import STREAM, FakeHub, LocalServer, Reply, Request

HERE = os.path.dirname(os.path.abspath(__file__))
BOOTSTRAP = os.path.join(os.path.dirname(HERE), "bootstrap.sh")
JOB_ID = "job-42"
POD_ID = "pod7xk2m9q1ab3"
SECRETS = {
    "JOB_TOKEN": "job-token-Zq8vR1sT0pSecret",
    "RUNPOD_API_KEY": "rpa_RUNPODKEY1234567890",
    "HF_TOKEN": "hf_HUBTOKENabcdefghij",
}
DATASET = '{"instruction": "Say hi", "input": "", "output": "hi"}\n{"text": "plain"}\n'


class PodWorld:
    """The gateway's status route, RunPod's REST pod routes and the dataset, on one server."""

    def __init__(self) -> None:
        self.statuses: List[Dict[str, Any]] = []
        self.status_replies: List[Reply] = []
        self.end_replies: List[Reply] = []
        self.stop_answer = False
        self.dataset = DATASET.encode()
        self.dataset_action = ""
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        if request.path == f"/api/training/jobs/{JOB_ID}/status" and request.method == "POST":
            if request.headers.get("authorization") != f"Bearer {SECRETS['JOB_TOKEN']}":
                return Reply(401, {"error": "unauthorized"})
            with self.lock:
                scripted = self.status_replies.pop(0) if self.status_replies else None
            if scripted:
                return scripted
            self.statuses.append(request.json())
            return Reply(200, {"status": "ok", "stop": self.stop_answer})
        if request.path.startswith(f"/v1/pods/{POD_ID}"):
            if request.headers.get("authorization") != f"Bearer {SECRETS['RUNPOD_API_KEY']}":
                return Reply(401, {"error": "unauthorized"})
            with self.lock:
                scripted = self.end_replies.pop(0) if self.end_replies else None
            return scripted or Reply(200, {})
        if request.path == "/data/train.jsonl" and request.method == "GET":
            return Reply(200, self.dataset, action=self.dataset_action)
        return Reply(404, {"error": "no route"})


class BootstrapTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="tg-bootstrap-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.workspace = os.path.join(self.tmp, "workspace")
        os.makedirs(os.path.join(self.tmp, "tmp"))
        self.world = PodWorld()
        self.server = LocalServer(self.world)
        self.addCleanup(self.server.close)
        self.hub = FakeHub(token=SECRETS["HF_TOKEN"], lfs_threshold=1024)
        self.addCleanup(self.hub.close)
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        self.pip_log = os.path.join(self.tmp, "pip.log")
        self.launch_log = os.path.join(self.tmp, "launch.log")
        self.pwned = os.path.join(self.tmp, "pwned")
        # Two module folders: one with a fake torch (an image's interpreter), one where torch fails to import.
        self.with_torch = os.path.join(self.tmp, "with-torch")
        self.without_torch = os.path.join(self.tmp, "without-torch")
        os.makedirs(os.path.join(self.with_torch, "torch"))
        os.makedirs(self.without_torch)
        with open(os.path.join(self.with_torch, "torch", "__init__.py"), "w") as handle:
            handle.write('__version__ = "2.8.0+cu128"\n')
        with open(os.path.join(self.without_torch, "torch.py"), "w") as handle:
            handle.write('raise ImportError("No module named torch")\n')
        self.python_stub(self.bin, "python3", torch=True)

    def python_stub(self, folder: str, name: str, torch: bool) -> str:
        """A Python interpreter for bootstrap.sh: `-m pip` and training launches are recorded (train.py
        runs tests/fake_trainer.py); every other call runs the real interpreter, with or without torch."""
        modules = self.with_torch if torch else self.without_torch
        self._write_stub(
            os.path.join(folder, name),
            "#!/bin/sh\n"
            f'PYTHONPATH="{modules}${{PYTHONPATH:+:$PYTHONPATH}}"; export PYTHONPATH\n'
            'record() { log=$1; shift; { echo "interpreter=$(basename "$0")"; echo "hf_token=${HF_TOKEN:+set}";'
            ' for arg in "$@"; do printf \'%s\\n\' "$arg"; done; printf \'\\n\'; } >>"$log"; }\n'
            'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
            '  shift 2; record "$FAKE_PIP_LOG" "$@"\n'
            '  echo "Collecting packages (stub pip)"\n'
            '  if [ -n "${FAKE_PIP_FAIL:-}" ]; then echo "ERROR: No matching distribution found for transformers" >&2; exit 1; fi\n'
            "  exit 0\n"
            "fi\n"
            'if [ "$1" = -m ] && [ "$2" = torch.distributed.run ]; then\n'
            '  record "$FAKE_LAUNCH_LOG" "$@"; shift 2\n'
            '  while [ $# -gt 0 ]; do case "$1" in --*) shift ;; *) break ;; esac; done\n'
            '  shift; exec "$REAL_PYTHON" "$FAKE_TRAINER" "$@"\n'
            "fi\n"
            'case "$1" in\n'
            '  */train.py) record "$FAKE_LAUNCH_LOG" "$@"; shift; exec "$REAL_PYTHON" "$FAKE_TRAINER" "$@" ;;\n'
            "esac\n"
            'exec "$REAL_PYTHON" "$@"\n',
        )
        return os.path.join(folder, name)

    def _write_stub(self, path: str, text: str) -> None:
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def config(self, **overrides: Any) -> Dict[str, Any]:
        config = {
            "modelName": "meta-llama/Llama-3.2-1B",
            "datasetUrl": f"{self.server.url}/data/train.jsonl?X-Amz-Signature=presigned-secret",
            "method": "LORA",
            "hyperparameters": {"epochs": 1, "targetModules": None, "quantization": "NONE"},
            "output": {"hubRepoId": None, "hubPrivate": True, "networkVolumeId": None, "onComplete": None},
        }
        for key, value in overrides.items():
            if isinstance(value, dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        return config

    def run_bootstrap(
        self, config: Optional[Dict[str, Any]] = None, drop: tuple = (), stdin: bool = False, **env_overrides: str
    ) -> subprocess.CompletedProcess:
        env = {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": self.tmp,
            "LANG": "C.UTF-8",
            "TMPDIR": os.path.join(self.tmp, "tmp"),
            "REAL_PYTHON": sys.executable,
            "FAKE_TRAINER": os.path.join(HERE, "fake_trainer.py"),
            "FAKE_PIP_LOG": self.pip_log,
            "FAKE_LAUNCH_LOG": self.launch_log,
            "TRAINGATE_GPU_COUNT": "1",
            "TRAINGATE_PYTHON": os.path.join(self.bin, "python3"),
            "TRAINGATE_WORKSPACE": self.workspace,
            "TRAINGATE_RETRY_BASE_SECONDS": "0.01",
            "TRAINGATE_HTTP_TIMEOUT": "5",
            "JOB_ID": JOB_ID,
            "METRICS_API_URL": f"{self.server.url}/api/training/jobs",
            "TRAINGATE_DEPLOYMENT_ID": "dep-1",
            "BUDGET_DEADLINE": "2026-11-28T21:00:00Z",
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(config or self.config()).encode()).decode(),
            "RUNPOD_POD_ID": POD_ID,
            "RUNPOD_REST_URL": f"{self.server.url}/v1",
            "HF_ENDPOINT": self.hub.url,
            **SECRETS,
        }
        env.update(env_overrides)
        for name in drop:
            env.pop(name, None)
        if stdin:  # piped into bash, as a renderer might run it: no file, so TRAINGATE_HOME says where
            env["TRAINGATE_HOME"] = os.path.dirname(BOOTSTRAP)
            with open(BOOTSTRAP) as handle:
                script = handle.read()
            result = subprocess.run(["bash", "-s"], input=script, env=env, capture_output=True, text=True, timeout=120)
        else:
            result = subprocess.run(["bash", BOOTSTRAP], env=env, capture_output=True, text=True, timeout=120)
        self.assert_no_secret_leaked(result)
        return result

    # -- shared assertions ----------------------------------------------------------------------

    def assert_no_secret_leaked(self, result: subprocess.CompletedProcess) -> None:
        texts = {"stdout": result.stdout, "stderr": result.stderr}
        for root, _, names in os.walk(self.workspace):
            for name in names:
                with open(os.path.join(root, name), "rb") as handle:
                    texts[os.path.join(root, name)] = handle.read().decode("utf-8", "replace")
        for where, text in texts.items():
            for secret_name, secret in SECRETS.items():
                self.assertNotIn(secret, text, f"{secret_name} leaked into {where}")
            self.assertNotIn("presigned-secret", text, f"the dataset URL's signature leaked into {where}")

    def pod_calls(self) -> List[str]:
        return [f"{r.method} {r.path}" for r in self.server.requests if r.path.startswith("/v1/")]

    def seen_by_trainer(self) -> Dict[str, Any]:
        with open(os.path.join(self.workspace, "fake-trainer-seen.json")) as handle:
            return json.load(handle)

    @staticmethod
    def _records(path: str) -> List[Dict[str, Any]]:
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            blocks = [block.split("\n") for block in handle.read().split("\n\n") if block.strip()]
        return [
            {"interpreter": b[0].split("=", 1)[1], "hf_token": b[1].split("=", 1)[1] == "set", "args": b[2:]}
            for b in blocks
        ]

    def pip_calls(self) -> List[List[str]]:
        return [record["args"] for record in self._records(self.pip_log)]

    def launches(self) -> List[Dict[str, Any]]:
        return self._records(self.launch_log)

    # -- tests ----------------------------------------------------------------------------------

    def test_a_run_reports_running_then_completed_and_stops_a_pod_whose_result_has_nowhere_else_to_go(self) -> None:
        result = self.run_bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)

        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])
        final = self.world.statuses[-1]
        self.assertEqual(final["artifact_uri"], f"pod://{POD_ID}/workspace/output")
        self.assertEqual(final["message"], "training completed: meta-llama/Llama-3.2-1B (LORA)")
        # No Hub, no network volume: onComplete defaults to STOP so the adapter survives.
        self.assertEqual(self.pod_calls(), [f"POST /v1/pods/{POD_ID}/stop"])

        (pip,) = self._records(self.pip_log)
        pip_args = pip["args"]
        self.assertEqual(pip_args[0], "install")
        # Exactly requirements.txt, beside bootstrap.sh; the image's torch is held by a constraints file.
        self.assertEqual(pip_args[pip_args.index("-r") + 1], os.path.join(os.path.dirname(BOOTSTRAP), "requirements.txt"))
        self.assertIn("-c", pip_args)
        self.assertFalse(any("==" in a for a in pip_args), "no pins beside requirements.txt")
        self.assertFalse(pip["hf_token"], "pip must not see HF_TOKEN")

        seen = self.seen_by_trainer()
        self.assertTrue(seen["hf_token_visible"], "train.py needs HF_TOKEN for gated models")
        self.assertEqual(seen["hf_home"], os.path.join(self.workspace, ".cache", "huggingface"))
        self.assertEqual(seen["torch_home"], os.path.join(self.workspace, ".cache", "torch"))
        self.assertEqual(seen["triton_cache_dir"], os.path.join(self.workspace, ".cache", "triton"))
        (launch,) = self.launches()
        self.assertEqual(launch["args"], [os.path.join(os.path.dirname(BOOTSTRAP), "train.py")])

        seen = self.seen_by_trainer()
        self.assertEqual(seen["dataset"], DATASET)
        self.assertEqual(seen["dataset_path"], os.path.join(self.workspace, "data", "dataset.jsonl"))
        self.assertEqual(seen["deadline"], "2026-11-28T21:00:00Z")
        self.assertFalse(seen["runpod_key_visible"], "train.py must not see the RunPod key")
        self.assertTrue(seen["job_token_visible"], "train.py needs the job token for metrics")

    def test_the_script_also_runs_when_piped_into_bash(self) -> None:
        result = self.run_bootstrap(stdin=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])
        self.assertEqual(self.seen_by_trainer()["dataset"], DATASET)

    def test_with_a_network_volume_and_terminate_the_pod_is_deleted(self) -> None:
        result = self.run_bootstrap(self.config(output={"networkVolumeId": "vol-abc", "onComplete": "TERMINATE"}))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.world.statuses[-1]["artifact_uri"], "runpod-volume://vol-abc/output")
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_with_a_hub_repo_the_output_is_pushed_privately_and_the_pod_terminated(self) -> None:
        config = self.config(method="QLORA", output={"hubRepoId": "alice/llama-adapter"})
        result = self.run_bootstrap(config)
        self.assertEqual(result.returncode, 0, result.stderr)

        final = self.world.statuses[-1]
        self.assertEqual((final["status"], final["artifact_uri"]), ("completed", "hf://alice/llama-adapter"))
        repo = self.hub.repos["alice/llama-adapter"]
        self.assertTrue(repo["private"])
        self.assertEqual(set(repo["files"]), {"adapter_config.json", "adapter_model.safetensors"})
        self.assertEqual(repo["files"]["adapter_model.safetensors"], bytes(range(256)) * 12)
        self.assertEqual(len(self.hub.storage.matching("PUT", r"/object/[0-9a-f]{64}")), 1)  # via LFS
        self.assertEqual(self.hub.commits[0][0]["value"]["summary"], f"TrainGate job {JOB_ID}")
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_a_failed_hub_upload_reports_failed_and_stops_the_pod_to_keep_the_result(self) -> None:
        self.hub.fail("POST", r"/api/repos/create", Reply(403, {"error": "You don't have the rights"}), Reply(403, {"error": "no rights"}))
        result = self.run_bootstrap(self.config(output={"hubRepoId": "bob/other"}))
        self.assertEqual(result.returncode, 0, result.stderr)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "failed")
        self.assertIn("upload to the Hugging Face Hub repo bob/other failed", final["message"])
        self.assertIn("403", final["message"])
        self.assertEqual(final["artifact_uri"], f"pod://{POD_ID}/workspace/output")
        self.assertEqual(self.pod_calls(), [f"POST /v1/pods/{POD_ID}/stop"])

    def test_a_failing_training_reports_the_error_tail_and_still_ends_the_pod(self) -> None:
        result = self.run_bootstrap(self.config(output={"onComplete": "TERMINATE"}), FAKE_TRAIN_MODE="fail")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "failed"])
        message = self.world.statuses[-1]["message"]
        self.assertTrue(message.startswith("train failed (exit 1)"), message)
        self.assertIn("OSError: cannot load model meta-llama/Llama-3.2-1B", message)
        self.assertNotIn("artifact_uri", self.world.statuses[-1])
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_hostile_config_values_arrive_intact_and_are_never_executed(self) -> None:
        hostile = (
            f'Evil "model" \'x\'\n$(touch {self.pwned}) `touch {self.pwned}` ; touch {self.pwned} '
            "\\back\\slash\\n $HOME ${JOB_TOKEN} %s %n \t\x01 \u00fcnicode \u2713"
        )
        targets = [f"q_proj$(touch {self.pwned})", "v`touch x`"]
        config = self.config(modelName=hostile, hyperparameters={"targetModules": targets})
        result = self.run_bootstrap(config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse(os.path.exists(self.pwned), "a config value was executed")
        self.assertEqual(self.world.statuses[-1]["message"], f"training completed: {hostile} (LORA)")
        self.assertEqual(self.seen_by_trainer()["model_name"], hostile)
        self.assertEqual(self.seen_by_trainer()["target_modules"], targets)

        # The same string inside a failure's log tail survives the JSON escaping as well.
        self.world.statuses.clear()
        shutil.rmtree(os.path.join(self.workspace, ".traingate"))
        self.run_bootstrap(config, FAKE_TRAIN_MODE="fail")
        self.assertIn(f"OSError: cannot load model {hostile}", self.world.statuses[-1]["message"])
        self.assertFalse(os.path.exists(self.pwned))

    def test_a_stop_request_reports_stopped_with_the_reason_and_delivers_the_partial_result(self) -> None:
        result = self.run_bootstrap(self.config(output={"networkVolumeId": "vol-9"}), FAKE_TRAIN_MODE="stop")
        self.assertEqual(result.returncode, 0, result.stderr)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "stopped")
        self.assertEqual(final["message"], "stopped early at step 40: the gateway asked the trainer to stop")
        self.assertEqual(final["artifact_uri"], "runpod-volume://vol-9/output")
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_a_stop_answer_to_running_skips_training(self) -> None:
        self.world.stop_answer = True
        result = self.run_bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "stopped"])
        self.assertEqual(self.pip_calls(), [])
        self.assertFalse(os.path.exists(os.path.join(self.workspace, "fake-trainer-seen.json")))

    def test_a_pip_failure_reports_failed_with_pips_output_and_ends_the_pod(self) -> None:
        result = self.run_bootstrap(FAKE_PIP_FAIL="1")
        self.assertNotEqual(result.returncode, 0)  # the failure shows in RunPod's log as well
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "failed"])
        message = self.world.statuses[-1]["message"]
        self.assertTrue(message.startswith("installing the Python packages failed"), message)
        self.assertIn("No matching distribution found for transformers", message)
        self.assertEqual(len(self.pip_calls()), 3)  # retried
        self.assertFalse(os.path.exists(os.path.join(self.workspace, "fake-trainer-seen.json")))
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_a_dataset_over_the_size_limit_fails_without_retrying(self) -> None:
        for action in ("", STREAM):  # with and without a Content-Length from the server
            with self.subTest(content_length=not action):
                self.world.statuses.clear()
                shutil.rmtree(os.path.join(self.workspace, ".traingate"), ignore_errors=True)
                self.world.dataset = b"x" * 5000
                self.world.dataset_action = action
                before = len(self.server.matching("GET", "/data/train.jsonl"))
                self.run_bootstrap(TRAINGATE_MAX_DATASET_BYTES="1000")
                message = self.world.statuses[-1]["message"]
                self.assertEqual(self.world.statuses[-1]["status"], "failed")
                self.assertIn("larger than the limit of 1000 bytes", message)
                self.assertEqual(len(self.server.matching("GET", "/data/train.jsonl")) - before, 1)
                self.assertIn(f"DELETE /v1/pods/{POD_ID}", self.pod_calls())

    def test_an_invalid_config_fails_fast_naming_the_field(self) -> None:
        self.run_bootstrap(self.config(method="DPO"))
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "failed")
        self.assertIn("method must be one of LORA, QLORA, FULL", final["message"])
        self.assertEqual(self.pip_calls(), [])
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_a_hub_repo_without_hf_token_fails_before_installing_anything(self) -> None:
        self.run_bootstrap(self.config(output={"hubRepoId": "alice/x"}), drop=("HF_TOKEN",))
        self.assertIn("HF_TOKEN is missing", self.world.statuses[-1]["message"])
        self.assertEqual(self.pip_calls(), [])

    def test_transient_gateway_and_runpod_errors_are_retried_and_gone_pods_are_fine(self) -> None:
        self.world.status_replies = [Reply(503, "db down", {"Retry-After": "0"}), Reply(429, "slow")]
        self.world.end_replies = [Reply(500, "oops"), Reply(404, {"error": "pod not found to terminate"})]
        result = self.run_bootstrap(self.config(output={"onComplete": "TERMINATE"}))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"] * 2)

    def test_a_job_the_gateway_has_closed_is_not_trained_and_the_pod_is_ended(self) -> None:
        self.world.status_replies = [Reply(409, {"error": "job is finished"})]
        result = self.run_bootstrap(self.config(output={"networkVolumeId": "vol-1"}))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.pip_calls(), [])
        self.assertFalse(os.path.exists(os.path.join(self.workspace, "fake-trainer-seen.json")))
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_missing_gateway_settings_still_end_the_pod(self) -> None:
        result = self.run_bootstrap(drop=("JOB_TOKEN",))
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("METRICS_API_URL, JOB_ID and JOB_TOKEN must all be set", result.stderr)
        self.assertEqual(self.world.statuses, [])
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_a_restarted_container_after_the_end_only_ends_the_pod_again(self) -> None:
        self.world.end_replies = [Reply(503, "busy")] * 3
        first = self.run_bootstrap(TRAINGATE_END_ATTEMPTS="3")
        self.assertNotEqual(first.returncode, 0)  # could not stop the pod: RunPod restarts us
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])

        second = self.run_bootstrap(TRAINGATE_END_ATTEMPTS="3")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(len(self.world.statuses), 2)  # nothing reported twice
        self.assertEqual(len(self.pip_calls()), 1)  # nothing installed or trained again
        self.assertEqual(self.pod_calls()[-1], f"POST /v1/pods/{POD_ID}/stop")  # the action decided then

    def test_json_string_escapes_anything_bash_can_hold(self) -> None:
        samples = [
            "",
            "plain",
            'quote " backslash \\ slash /',
            "newline\nreturn\rtab\t",
            "".join(chr(c) for c in range(1, 32)) + "\x7f",
            "$(id) `id` ${HOME} %s %b \\x41 \\u0041",
            "ünïcödé ✓ 😀",
        ]
        for sample in samples:
            with self.subTest(sample=sample):
                out = subprocess.run(
                    ["bash", "-c", 'source "$1"; json_string "$2"', "_", BOOTSTRAP, sample],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                self.assertEqual(json.loads(out.stdout), sample)
                self.assertTrue(re.fullmatch(r'"[^\x00-\x1f]*"', out.stdout), out.stdout)


if __name__ == "__main__":
    unittest.main()
