"""bootstrap.sh run for real, with local fakes for the gateway, RunPod's REST API and the Hub.

Only two things are stubbed: `pip` (no package index here) and the training run itself (a
python3 wrapper runs tests/fake_trainer.py when asked for train.py and hands every other call,
config parsing and hub_push.py included, to the real interpreter).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest
from typing import Any, Dict, List, Optional

from tests.support import STREAM, FakeArtifacts, FakeHub, LocalServer, Reply, Request

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
        self.artifacts = FakeArtifacts(JOB_ID, SECRETS["JOB_TOKEN"])
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        artifact = self.artifacts(request)
        if artifact is not None:
            return artifact
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
            '  shift; "$REAL_PYTHON" "$FAKE_TRAINER" "$@" || exit 1\n'  # torchrun: any failing worker is exit 1
            "  exit 0\n"
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
            env.setdefault("TRAINGATE_HOME", os.path.dirname(BOOTSTRAP))
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

    def uploaded_files(self) -> Dict[str, bytes]:
        """The files of the tar the fake gateway holds (it verified the hash before saying complete)."""
        self.assertTrue(self.world.artifacts.complete, "the artifact upload did not complete")
        with tarfile.open(fileobj=io.BytesIO(bytes(self.world.artifacts.data))) as archive:
            return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]

    def output_files(self) -> Dict[str, bytes]:
        folder = os.path.join(self.workspace, "output")
        files = {}
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as handle:
                files[name] = handle.read()
        return files

    def test_a_run_reports_running_then_completed_and_terminates_the_pod_once_the_gateway_holds_the_result(self) -> None:
        result = self.run_bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)

        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])
        final = self.world.statuses[-1]
        self.assertEqual(final["artifact_uri"], f"gateway://{JOB_ID}")
        self.assertEqual(final["message"], "training completed: meta-llama/Llama-3.2-1B (LORA)")
        # No Hub, no network volume: the result goes to the gateway, then the pod is terminated.
        self.assertEqual(self.uploaded_files(), self.output_files())
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])
        puts = self.server.matching("PUT", f"/api/training/jobs/{JOB_ID}/artifact")
        self.assertEqual(len(puts), 1)
        self.assertEqual(puts[0].headers["x-content-sha256"], hashlib.sha256(self.world.artifacts.data).hexdigest())

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

    def test_a_broken_connection_mid_upload_resumes_from_the_gateways_offset(self) -> None:
        self.world.artifacts.break_next(700)  # the first chunk: 700 of its 1000 bytes arrive, then the line dies
        self.world.artifacts.break_next(0)  # and the retry's connection dies before a byte lands
        result = self.run_bootstrap(TRAINGATE_ARTIFACT_CHUNK_BYTES="1000")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.world.statuses[-1]["status"], "completed")
        self.assertEqual(self.uploaded_files(), self.output_files())
        puts = self.server.matching("PUT", f"/api/training/jobs/{JOB_ID}/artifact")
        ranges = [p.headers["content-range"] for p in puts]
        size = len(self.world.artifacts.data)
        self.assertEqual(ranges[:3], [f"bytes 0-999/{size}", "bytes 700-1699/" + str(size), "bytes 700-1699/" + str(size)])
        self.assertGreaterEqual(len(self.server.matching("HEAD", f"/api/training/jobs/{JOB_ID}/artifact")), 3)
        self.assertIn("X-Content-SHA256".lower(), puts[-1].headers)
        self.assertNotIn("x-content-sha256", puts[0].headers)

    def test_a_rejected_upload_starts_over_and_a_refused_one_keeps_the_pod_disk(self) -> None:
        self.world.artifacts.script = [Reply(422, {"error": "X-Content-SHA256 does not match; nothing was kept"})]
        result = self.run_bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.world.statuses[-1]["artifact_uri"], f"gateway://{JOB_ID}")
        self.assertEqual(self.uploaded_files(), self.output_files())

        self.setUp()
        self.world.artifacts.script = [Reply(413, {"error": "the artifact is over ARTIFACT_MAX_BYTES"})]
        result = self.run_bootstrap()
        self.assertEqual(result.returncode, 0, result.stderr)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "failed")
        self.assertIn("the upload to the gateway failed", final["message"])
        self.assertIn("ARTIFACT_MAX_BYTES", final["message"])
        self.assertEqual(final["artifact_uri"], f"pod://{POD_ID}/workspace/output")
        # The result is only on this pod's disk: stopped, not destroyed.
        self.assertEqual(self.pod_calls(), [f"POST /v1/pods/{POD_ID}/stop"])
        self.assertEqual(len(self.server.matching("PUT", f"/api/training/jobs/{JOB_ID}/artifact")), 1)

    def test_a_stopped_run_uploads_its_partial_result_to_the_gateway(self) -> None:
        result = self.run_bootstrap(FAKE_TRAIN_MODE="stop")
        self.assertEqual(result.returncode, 0, result.stderr)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "stopped")
        self.assertEqual(final["artifact_uri"], f"gateway://{JOB_ID}")
        self.assertEqual(self.uploaded_files(), self.output_files())
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

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
        self.assertIn("refused to create bob/other (403", final["message"])  # not fatal by itself...
        self.assertIn("answered 404", final["message"])  # ...the upload then found no such repo
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
        # The gateway asked: the report names no reason of the trainer's own.
        self.assertNotIn("reason", final)
        self.assertEqual(self.pod_calls(), [f"DELETE /v1/pods/{POD_ID}"])

    def test_a_stop_at_the_budget_deadline_reports_its_reason_and_delivers_the_partial_result(self) -> None:
        result = self.run_bootstrap(FAKE_TRAIN_MODE="deadline")
        self.assertEqual(result.returncode, 0, result.stderr)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "stopped")
        self.assertEqual(final["reason"], "budget_deadline")
        self.assertEqual(final["message"], "stopped early at step 40: the budget deadline is near")
        self.assertEqual(final["artifact_uri"], f"gateway://{JOB_ID}")
        self.assertEqual(self.uploaded_files(), self.output_files())
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

    def test_a_bundle_without_requirements_txt_fails_before_installing(self) -> None:
        home = os.path.join(self.tmp, "bundle")
        os.makedirs(home)
        for name in ("bootstrap.sh", "train.py", "metrics_reporter.py", "hub_push.py"):
            shutil.copy(os.path.join(os.path.dirname(BOOTSTRAP), name), home)
        self.run_bootstrap(stdin=True, TRAINGATE_HOME=home)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "failed")
        self.assertTrue(final["message"].startswith(f"requirements.txt is missing beside bootstrap.sh in {home}"), final["message"])
        self.assertEqual(self.pip_calls(), [])

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
        keep = self.config(output={"onComplete": "STOP"})
        first = self.run_bootstrap(keep, TRAINGATE_END_ATTEMPTS="3")
        self.assertNotEqual(first.returncode, 0)  # could not stop the pod: RunPod restarts us
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])

        second = self.run_bootstrap(keep, TRAINGATE_END_ATTEMPTS="3")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(len(self.world.statuses), 2)  # nothing reported twice
        self.assertEqual(len(self.pip_calls()), 1)  # nothing installed or trained again
        self.assertEqual(self.pod_calls()[-1], f"POST /v1/pods/{POD_ID}/stop")  # the action decided then

    def test_the_interpreter_that_imports_torch_installs_and_trains_whatever_python_and_python3_are(self) -> None:
        # RunPod's current images: python (and pip) is one Python, python3 the system one without torch.
        for torch_in in ("python3", "python"):
            with self.subTest(torch_in=torch_in):
                for path in (self.pip_log, self.launch_log):
                    if os.path.exists(path):
                        os.remove(path)
                shutil.rmtree(self.workspace, ignore_errors=True)
                self.world.statuses.clear()
                alt = tempfile.mkdtemp(prefix="alt-bin-", dir=self.tmp)
                for name in ("python", "python3"):
                    self.python_stub(alt, name, torch=name == torch_in)
                result = self.run_bootstrap(drop=("TRAINGATE_PYTHON",), PATH=f"{alt}:{self.bin}:/usr/bin:/bin")
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])
                self.assertEqual([c["interpreter"] for c in self._records(self.pip_log)], [torch_in])
                self.assertEqual([c["interpreter"] for c in self.launches()], [torch_in])
                self.assertIn(f"python: {alt}/{torch_in} (imports torch)", result.stderr)

    def test_several_gpus_run_one_process_per_gpu_with_torchrun_on_the_same_interpreter(self) -> None:
        train = os.path.join(os.path.dirname(BOOTSTRAP), "train.py")
        torchrun = ["-m", "torch.distributed.run", "--standalone"]
        fake_smi = tempfile.mkdtemp(prefix="smi-", dir=self.tmp)
        self._write_stub(
            os.path.join(fake_smi, "nvidia-smi"),
            "#!/bin/sh\nprintf 'GPU 0: NVIDIA H100 (UUID: GPU-a)\\nGPU 1: NVIDIA H100 (UUID: GPU-b)\\n'\n",
        )
        cases = [
            ("LORA", "NONE", {"TRAINGATE_GPU_COUNT": "4"}, torchrun + ["--nproc_per_node=4", train]),
            ("FULL", "NONE", {"TRAINGATE_GPU_COUNT": "2"}, torchrun + ["--nproc_per_node=2", train]),
            ("QLORA", "NONE", {"TRAINGATE_GPU_COUNT": "4"}, [train]),
            ("LORA", "INT8", {"TRAINGATE_GPU_COUNT": "2"}, [train]),
            ("LORA", "NONE", {"TRAINGATE_GPU_COUNT": "1"}, [train]),
            # Unset: counted from nvidia-smi -L.
            ("LORA", "NONE", {"PATH": f"{self.bin}:{fake_smi}:/usr/bin:/bin"}, torchrun + ["--nproc_per_node=2", train]),
        ]
        for method, quantization, env, expected in cases:
            with self.subTest(method=method, quantization=quantization, env=env):
                if os.path.exists(self.launch_log):
                    os.remove(self.launch_log)
                shutil.rmtree(self.workspace, ignore_errors=True)
                config = self.config(method=method, hyperparameters={"quantization": quantization})
                drop = ("TRAINGATE_GPU_COUNT",) if "TRAINGATE_GPU_COUNT" not in env else ()
                result = self.run_bootstrap(config, drop=drop, **env)
                self.assertEqual(result.returncode, 0, result.stderr)
                (launch,) = self.launches()
                self.assertEqual((launch["interpreter"], launch["args"]), ("python3", expected))
                if expected == [train] and env.get("TRAINGATE_GPU_COUNT", "1") != "1":
                    self.assertIn("trains in one process", result.stderr)

    def test_a_stop_under_torchrun_is_reported_stopped_although_torchrun_exits_1(self) -> None:
        result = self.run_bootstrap(self.config(output={"networkVolumeId": "vol-9"}), FAKE_TRAIN_MODE="stop", TRAINGATE_GPU_COUNT="2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("train.py exited with 1", result.stderr)
        final = self.world.statuses[-1]
        self.assertEqual((final["status"], final["artifact_uri"]), ("stopped", "runpod-volume://vol-9/output"))
        self.assertEqual(final["message"], "stopped early at step 40: the gateway asked the trainer to stop")

        # A failing torchrun without the marker stays a failure.
        self.world.statuses.clear()
        shutil.rmtree(os.path.join(self.workspace, ".traingate"))
        self.run_bootstrap(FAKE_TRAIN_MODE="fail", TRAINGATE_GPU_COUNT="2")
        self.assertEqual(self.world.statuses[-1]["status"], "failed")

    def sigterm_mid_training(self, config: Dict[str, Any]) -> "subprocess.CompletedProcess[str]":
        """Runs the bootstrap with a trainer that waits, sends it SIGTERM once training started, and waits."""
        started = os.path.join(self.workspace, "fake-trainer-started")
        # run_bootstrap blocks: start it with Popen instead, to signal it mid-training.
        env = {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": self.tmp,
            "LANG": "C.UTF-8",
            "TMPDIR": os.path.join(self.tmp, "tmp"),
            "REAL_PYTHON": sys.executable,
            "FAKE_TRAINER": os.path.join(HERE, "fake_trainer.py"),
            "FAKE_PIP_LOG": self.pip_log,
            "FAKE_LAUNCH_LOG": self.launch_log,
            "FAKE_TRAIN_MODE": "wait",
            "TRAINGATE_GPU_COUNT": "1",
            "TRAINGATE_PYTHON": os.path.join(self.bin, "python3"),
            "TRAINGATE_WORKSPACE": self.workspace,
            "TRAINGATE_RETRY_BASE_SECONDS": "0.01",
            "TRAINGATE_HTTP_TIMEOUT": "5",
            "JOB_ID": JOB_ID,
            "METRICS_API_URL": f"{self.server.url}/api/training/jobs",
            "TRAINGATE_CONFIG_B64": base64.b64encode(json.dumps(config).encode()).decode(),
            "RUNPOD_POD_ID": POD_ID,
            "RUNPOD_REST_URL": f"{self.server.url}/v1",
            "HF_ENDPOINT": self.hub.url,
            **SECRETS,
        }
        process = subprocess.Popen(["bash", BOOTSTRAP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        deadline = time.monotonic() + 60
        while not os.path.exists(started) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(started), "the trainer never started")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        self.assert_no_secret_leaked(done)
        return done

    def test_sigterm_reaches_the_trainer_which_saves_a_checkpoint_and_the_job_is_reported_stopped(self) -> None:
        done = self.sigterm_mid_training(self.config(output={"networkVolumeId": "vol-5"}))
        stderr = done.stderr
        self.assertEqual(done.returncode, 0, stderr)
        # The trainer got the SIGTERM, saved its checkpoint and exited 3 with its marker.
        with open(os.path.join(self.workspace, "checkpoints", "run", "checkpoint-7", "trainer_state.json")) as handle:
            self.assertEqual(json.load(handle)["signal"], "SIGTERM")
        self.assertIn("train.py exited with 3", stderr)
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "stopped"])
        final = self.world.statuses[-1]
        self.assertEqual(final["message"], "stopped early at step 7: received SIGTERM (bootstrap received SIGTERM)")
        self.assertEqual(final["artifact_uri"], "runpod-volume://vol-5/output")
        # Whoever sent the signal ends the pod; no done marker, so a resumed pod trains on from the checkpoint.
        self.assertEqual(self.pod_calls(), [])
        self.assertFalse(os.path.exists(os.path.join(self.workspace, ".traingate", f"done-{JOB_ID}")))
        self.assertIn("received SIGTERM: passing it to the trainer", stderr)
        self.assertEqual(self.world.artifacts.data, b"")

    def test_sigterm_with_the_gateway_as_destination_uploads_the_partial_result_before_reporting(self) -> None:
        # No Hub repo and no volume: the gateway is where the result goes, and a terminated pod's disk is deleted.
        done = self.sigterm_mid_training(self.config())
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(self.world.artifacts.complete, "the partial result was not uploaded")
        with tarfile.open(fileobj=io.BytesIO(bytes(self.world.artifacts.data))) as archive:
            self.assertIn("adapter_model.safetensors", archive.getnames())
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "stopped"])
        self.assertEqual(self.world.statuses[-1]["artifact_uri"], f"gateway://{JOB_ID}")
        self.assertEqual(self.pod_calls(), [])

    # -- hf://datasets/... (download_dataset run on its own: sourced, against the fake Hub) -------

    def hub_download(self, url: str, limit: int = 1 << 20, **env: str) -> Dict[str, Any]:
        """download_dataset for `url`; its exit code, DATASET_PATH and failure_message."""
        workspace = os.path.join(self.tmp, "hub-ws")
        shutil.rmtree(workspace, ignore_errors=True)
        script = (
            'source "$1"; PYTHON=$2; WORKSPACE=$3; DATASET_URL=$4; MAX_DATASET_BYTES=$5; DOWNLOAD_TIMEOUT=30;'
            ' RETRY_BASE=0.01; LOG_DIR="$WORKSPACE/logs"; mkdir -p "$LOG_DIR"; rc=0;'
            ' phase download download_dataset || rc=$?;'
            ' { printf "%s\\n%s\\n" "$rc" "${DATASET_PATH:-}"; failure_message "$rc"; } >"$WORKSPACE/result"'
        )
        full_env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": self.tmp,
            "LANG": "C.UTF-8",
            "REAL_PYTHON": sys.executable,
            "HF_ENDPOINT": self.hub.url,
            "HF_TOKEN": SECRETS["HF_TOKEN"],
            **env,
        }
        for name in [k for k, v in full_env.items() if v is None]:
            full_env.pop(name)
        out = subprocess.run(
            ["bash", "-c", script, "_", BOOTSTRAP, os.path.join(self.bin, "python3"), workspace, url, str(limit)],
            env=full_env, capture_output=True, text=True, timeout=120,
        )
        with open(os.path.join(workspace, "result"), encoding="utf-8") as handle:
            rc, path, message = (handle.read().split("\n", 2) + ["", ""])[:3]
        data = None
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                data = handle.read()
        self.assertNotIn(SECRETS["HF_TOKEN"], out.stdout + out.stderr)
        return {"rc": int(rc), "path": path, "data": data, "message": message, "stderr": out.stderr, "workspace": workspace}

    def test_a_whole_run_trains_on_a_gated_hub_dataset_with_the_users_token(self) -> None:
        rows = '{"instruction": "a", "output": "b"}\n'
        self.hub.datasets["org/gated-sft"] = {"train.jsonl": rows.encode()}
        self.hub.dataset_access["org/gated-sft"] = "gated"
        self.hub.accepted.add("org/gated-sft")
        result = self.run_bootstrap(self.config(datasetUrl="hf://datasets/org/gated-sft/train.jsonl"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([s["status"] for s in self.world.statuses], ["running", "completed"])
        seen = self.seen_by_trainer()
        self.assertEqual(seen["dataset"], rows)
        self.assertEqual(seen["dataset_path"], os.path.join(self.workspace, "data", "dataset.jsonl"))
        (resolve,) = self.hub.api.matching("GET", r"/datasets/org/gated-sft/resolve/.*")
        self.assertEqual(resolve.headers["authorization"], f"Bearer {SECRETS['HF_TOKEN']}")

    def test_a_whole_run_on_a_gated_hub_dataset_without_access_fails_saying_what_to_do(self) -> None:
        self.hub.datasets["org/gated-sft"] = {"train.jsonl": b'{"text": "x"}\n'}
        self.hub.dataset_access["org/gated-sft"] = "gated"
        result = self.run_bootstrap(self.config(datasetUrl="hf://datasets/org/gated-sft/train.jsonl"), drop=["HF_TOKEN"])
        self.assertNotEqual(result.returncode, 0)
        final = self.world.statuses[-1]
        self.assertEqual(final["status"], "failed")
        self.assertIn("HUGGINGFACE", final["message"])
        self.assertFalse(self.launches(), "nothing is trained without the dataset")

    def test_a_named_file_of_a_hub_dataset_is_downloaded_at_its_revision_with_the_token_on_the_hub_only(self) -> None:
        rows = '{"instruction": "a", "output": "b"}\n'
        self.hub.datasets["org/chat-set"] = {"data/train+v1.jsonl": rows.encode(), "README.md": b"# card"}
        self.hub.dataset_access["org/chat-set"] = "private"
        got = self.hub_download("hf://datasets/org/chat-set/data/train+v1.jsonl@release/v1.0")
        self.assertEqual(got["rc"], 0, got["stderr"])
        self.assertEqual(got["path"], os.path.join(got["workspace"], "data", "dataset.jsonl"))
        self.assertEqual(got["data"], rows)
        (resolve,) = self.hub.api.matching("GET", r"/datasets/org/chat-set/resolve/.*")
        self.assertEqual(resolve.path, "/datasets/org/chat-set/resolve/release%2Fv1.0/data/train%2Bv1.jsonl")
        self.assertEqual(resolve.headers["authorization"], f"Bearer {SECRETS['HF_TOKEN']}")
        (blob,) = self.hub.storage.matching("GET", r"/blob/.*")
        self.assertNotIn("authorization", blob.headers)  # the redirect to storage does not carry the token
        self.assertEqual(sorted(os.listdir(os.path.join(got["workspace"], "data"))), ["dataset.jsonl"])

    def test_a_whole_hub_dataset_takes_its_train_files_of_one_format_as_one_jsonl(self) -> None:
        self.hub.datasets["org/tables"] = {
            "README.md": b"# card",
            "dataset_infos.json": b"{}",
            "data/test.csv": b"instruction,output\nnot,this\n",
            "data/train-00001.csv": "instruction,output\nsecond,2 \u2713\n".encode(),
            "data/train-00000.csv": b"instruction,output\nfirst,\"1, quoted\"\n",
        }
        got = self.hub_download("hf://datasets/org/tables", HF_TOKEN=None)
        self.assertEqual(got["rc"], 0, got["stderr"])
        self.assertEqual(got["path"], os.path.join(got["workspace"], "data", "dataset.jsonl"))
        self.assertEqual(
            [json.loads(line) for line in got["data"].splitlines()],
            [{"instruction": "first", "output": "1, quoted"}, {"instruction": "second", "output": "2 \u2713"}],
        )
        (listing,) = self.hub.api.matching("GET", r"/api/datasets/org/tables/revision/main")
        self.assertEqual(listing.query, {"blobs": ["true"]})
        self.assertNotIn("authorization", listing.headers)  # no token saved: none sent
        self.assertEqual(len(self.hub.api.matching("GET", r"/datasets/org/tables/resolve/main/.*")), 2)

        # JSON and JSONL files are merged too; a single JSON file is kept as it is.
        self.hub.datasets["org/split"] = {"a/train.json": b'{"data": [{"text": "x"}]}', "b/train.jsonl": b'{"text": "y"}\n'}
        got = self.hub_download("hf://datasets/org/split")
        self.assertEqual([json.loads(line) for line in got["data"].splitlines()], [{"text": "y"}])  # jsonl beats json
        self.hub.datasets["org/one"] = {"all.json": b'[{"text": "z"}]'}
        got = self.hub_download("hf://datasets/org/one")
        self.assertEqual((os.path.basename(got["path"]), got["data"]), ("dataset.json", '[{"text": "z"}]'))

    def test_a_gated_or_private_hub_dataset_fails_saying_what_to_do_without_retrying(self) -> None:
        self.hub.datasets["meta/gated"] = {"train.jsonl": b'{"text": "x"}\n'}
        self.hub.dataset_access["meta/gated"] = "gated"
        got = self.hub_download("hf://datasets/meta/gated/train.jsonl")
        self.assertEqual(got["rc"], 1)
        self.assertEqual(
            got["message"],
            "the Hugging Face Hub refused access to the dataset meta/gated (403) with the saved HUGGINGFACE token. "
            f"If the dataset is gated, accept its terms at {self.hub.url}/datasets/meta/gated with the account of the "
            "token; if it is private, save a HUGGINGFACE token that can read it; then deploy again",
        )
        self.assertEqual(len(self.hub.api.matching("GET", r"/datasets/meta/gated/.*")), 1)  # not retried

        got = self.hub_download("hf://datasets/meta/gated", HF_TOKEN=None)
        self.assertTrue(got["message"].startswith("the Hugging Face Hub refused access to the dataset meta/gated (401) "
                                                  "with no HUGGINGFACE token (none is saved)"), got["message"])
        self.assertNotIn("last output", got["message"])

        self.hub.accepted.add("meta/gated")  # terms accepted: the same token now reads it
        self.assertEqual(self.hub_download("hf://datasets/meta/gated/train.jsonl")["data"], '{"text": "x"}\n')

    def test_hub_dataset_limits_missing_files_and_transient_errors(self) -> None:
        self.hub.datasets["org/big"] = {"train.jsonl": b'{"text": "x"}\n' * 100}
        got = self.hub_download("hf://datasets/org/big", limit=500)
        self.assertIn("larger than the limit of 500 bytes", got["message"])
        self.assertEqual(self.hub.api.matching("GET", r"/datasets/org/big/resolve/.*"), [])  # refused from the listing
        got = self.hub_download("hf://datasets/org/big/train.jsonl", limit=500)  # a named file: while streaming
        self.assertIn("larger than the limit of 500 bytes", got["message"])

        got = self.hub_download("hf://datasets/org/big/nope.jsonl")
        self.assertEqual(got["message"], f"the Hub has no file nope.jsonl at revision main of the dataset org/big (404; see {self.hub.url}/datasets/org/big)")
        self.hub.datasets["org/empty"] = {"README.md": b"# card"}
        self.assertIn("has no JSON, JSONL, Parquet or CSV file", self.hub_download("hf://datasets/org/empty")["message"])

        self.hub.fail("GET", r"/api/datasets/org/big/revision/.*", Reply(503, "busy"), Reply(500, "oops"))
        got = self.hub_download("hf://datasets/org/big")
        self.assertEqual(got["rc"], 0, got["stderr"])
        self.assertEqual(got["data"], '{"text": "x"}\n' * 100)

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
