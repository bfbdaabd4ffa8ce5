"""hub_push.py with the real huggingface_hub (the pinned one) against the local fake Hub.

Runs in the pod venv: cd trainer-scripts && <venv>/bin/python -m unittest discover -s tests_real -t .
hub_push.py runs as the pod runs it (a subprocess, the CLI); Xet is off (HF_HUB_DISABLE_XET=1), so
the library takes the LFS path the fake implements: repo create, preupload, LFS batch + PUT to a
second origin + verify, NDJSON commit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests.support import FakeHub, Reply

HERE = os.path.dirname(os.path.abspath(__file__))
HUB_PUSH = os.path.join(os.path.dirname(HERE), "hub_push.py")
TOKEN = "hf_realLibraryToken0123456789"


class RealHubPushTest(unittest.TestCase):
    def setUp(self) -> None:
        self.hub = FakeHub(token=TOKEN, lfs_threshold=1024)
        self.addCleanup(self.hub.close)
        self.tmp = tempfile.mkdtemp(prefix="tg-hub-real-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.folder = os.path.join(self.tmp, "output")
        self.files = {
            "adapter_config.json": b'{"r": 16, "lora_alpha": 32}',
            "adapter_model.safetensors": os.urandom(5000),
            "tokenizer/tokenizer.json": b'{"version": "1.0"}' * 10,
        }
        for name, data in self.files.items():
            path = os.path.join(self.folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)

    def push(self, *args: str) -> subprocess.CompletedProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,
            "HF_HOME": os.path.join(self.tmp, "hf-home"),
            "HF_ENDPOINT": self.hub.url,
            "HF_TOKEN": TOKEN,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TRAINGATE_RETRY_BASE_SECONDS": "0.01",
            "TRAINGATE_HUB_ATTEMPTS": "3",
        }
        result = subprocess.run(
            [sys.executable, HUB_PUSH, f"--folder={self.folder}", "--commit-message=TrainGate job 7", *args],
            env=env, capture_output=True, text=True, timeout=120,
        )
        self.assertNotIn(TOKEN, result.stdout + result.stderr)
        return result

    def test_the_library_is_what_runs(self) -> None:
        import huggingface_hub  # the pod venv has it: this suite must not pass on the fallback

        result = self.push("--repo-id=alice/adapter")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"uploading with huggingface_hub {huggingface_hub.__version__}", result.stderr)

    def test_creates_a_private_repo_and_uploads_large_files_through_lfs(self) -> None:
        result = self.push("--repo-id=alice/adapter", "--private=true")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip().splitlines()[-1], "alice/adapter")
        self.assertTrue(self.hub.repos["alice/adapter"]["private"])
        self.assertEqual(self.hub.repos["alice/adapter"]["files"], self.files)
        big = self.files["adapter_model.safetensors"]
        (put,) = self.hub.storage.matching("PUT", r"/object/[0-9a-f]{64}")
        self.assertEqual((put.path, put.body), (f"/object/{hashlib.sha256(big).hexdigest()}", big))
        self.assertNotIn("authorization", put.headers)  # the token stays on the Hub's origin
        (create,) = self.hub.create_payloads
        self.assertEqual((create["name"], create["organization"]), ("adapter", "alice"))
        self.assertEqual(self.hub.commits[0][0]["value"]["summary"], "TrainGate job 7")

    def test_public_when_asked_and_an_existing_repo_is_reused(self) -> None:
        self.assertEqual(self.push("--repo-id=alice/open", "--private=false").returncode, 0)
        self.assertFalse(self.hub.repos["alice/open"]["private"])
        again = self.push("--repo-id=alice/open", "--private=true")  # 409: exists; visibility kept
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertFalse(self.hub.repos["alice/open"]["private"])
        self.assertEqual(len(self.hub.commits), 2)

    def test_a_403_on_create_still_uploads_into_a_repo_the_token_may_write(self) -> None:
        self.hub.repos["org/shared"] = {"private": True, "files": {}}
        self.hub.fail("POST", r"/api/repos/create", Reply(403, {"error": "You don't have the rights to create a model under org"}))
        result = self.push("--repo-id=org/shared")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.hub.repos["org/shared"]["files"], self.files)

    def test_a_403_on_create_when_repo_info_is_refused_too_still_tries_the_upload(self) -> None:
        # The library's own exist_ok handling asks repo_info after a 403; a token that may write but
        # not read the metadata must still get to the upload.
        self.hub.repos["org/shared"] = {"private": True, "files": {}}
        self.hub.fail("POST", r"/api/repos/create", Reply(403, {"error": "no rights"}))
        self.hub.fail("GET", r"/api/models/org/shared", Reply(403, {"error": "no rights"}))
        result = self.push("--repo-id=org/shared")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("trying the upload", result.stderr)
        self.assertEqual(self.hub.repos["org/shared"]["files"], self.files)

    def test_a_403_on_create_of_a_missing_repo_fails_naming_the_repo(self) -> None:
        self.hub.fail("POST", r"/api/repos/create", Reply(403, {"error": "no rights"}))
        result = self.push("--repo-id=org/missing")
        self.assertEqual(result.returncode, 1)
        self.assertIn("hub push failed", result.stderr)
        self.assertIn("org/missing", result.stderr)
        self.assertEqual(self.hub.commits, [])

    def test_a_5xx_on_the_commit_is_retried(self) -> None:
        self.hub.fail("POST", r"/api/models/.*/commit/main", Reply(503, "busy"))
        result = self.push("--repo-id=alice/flaky")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.hub.repos["alice/flaky"]["files"], self.files)

    def test_a_refused_token_fails(self) -> None:
        self.hub.token = "another"
        result = self.push("--repo-id=alice/x")
        self.assertEqual(result.returncode, 1)
        self.assertIn("401", result.stderr)


if __name__ == "__main__":
    unittest.main()
