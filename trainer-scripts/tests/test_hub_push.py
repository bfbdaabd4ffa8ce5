"""hub_push.py against a local fake Hub (API server + a separate storage server)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import shutil
import tempfile
import unittest

import hub_push
from tests.support import FakeHub, Reply

TOKEN = "hf-secret-token"


class HubPushTest(unittest.TestCase):
    def setUp(self) -> None:
        logging.getLogger("traingate.hub").setLevel(logging.CRITICAL)
        self.hub = FakeHub(token=TOKEN, lfs_threshold=1024)
        self.addCleanup(self.hub.close)
        self.folder = tempfile.mkdtemp(prefix="tg-hub-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.files = {
            "adapter_config.json": b'{"r": 16, "lora_alpha": 32}',
            "adapter_model.safetensors": os.urandom(5000),
            "tokenizer/tokenizer.json": b'{"version": "1.0"}' * 10,
            "empty.txt": b"",
        }
        for name, data in self.files.items():
            path = os.path.join(self.folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
        self.sleeps = []

    def pusher(self, token: str = TOKEN, attempts: int = 4) -> hub_push.HubPusher:
        client = hub_push.HubClient(self.hub.url, token, attempts=attempts, backoff_base=0.01, sleep=self.sleeps.append)
        return hub_push.HubPusher(client)

    def test_pushes_a_folder_to_a_new_private_repo_with_lfs_for_large_files(self) -> None:
        repo = self.pusher().push("alice/my-adapter", self.folder, private=True, message="TrainGate job 1")

        self.assertEqual(repo, "alice/my-adapter")
        self.assertEqual(
            self.hub.create_payloads,
            [{"name": "my-adapter", "organization": "alice", "type": "model", "private": True}],
        )
        self.assertTrue(self.hub.repos["alice/my-adapter"]["private"])
        self.assertEqual(self.hub.repos["alice/my-adapter"]["files"], self.files)

        # Only the large file went through LFS: batch API, then a PUT to the storage origin.
        (batch,) = self.hub.api.matching("POST", r"/alice/my-adapter\.git/info/lfs/objects/batch")
        big = self.files["adapter_model.safetensors"]
        self.assertEqual(batch.json()["objects"], [{"oid": hashlib.sha256(big).hexdigest(), "size": len(big)}])
        self.assertEqual(batch.headers["accept"], "application/vnd.git-lfs+json")
        (put,) = self.hub.storage.matching("PUT", r"/object/[0-9a-f]{64}")
        self.assertEqual(put.body, big)
        self.assertNotIn("authorization", put.headers)  # the token never leaves the Hub's origin
        self.assertEqual(len(self.hub.api.matching("POST", r"/lfs-verify/[0-9a-f]{64}")), 1)

        (commit,) = self.hub.commits
        self.assertEqual(commit[0], {"key": "header", "value": {"summary": "TrainGate job 1", "description": ""}})
        regular = {line["value"]["path"]: line["value"] for line in commit if line["key"] == "file"}
        self.assertEqual(set(regular), {"adapter_config.json", "tokenizer/tokenizer.json", "empty.txt"})
        self.assertEqual(base64.b64decode(regular["adapter_config.json"]["content"]), self.files["adapter_config.json"])
        self.assertEqual(regular["adapter_config.json"]["encoding"], "base64")
        (lfs_line,) = [line["value"] for line in commit if line["key"] == "lfsFile"]
        self.assertEqual(
            lfs_line,
            {"path": "adapter_model.safetensors", "algo": "sha256", "oid": hashlib.sha256(big).hexdigest(), "size": len(big)},
        )
        for request in self.hub.api.requests:
            self.assertEqual(request.headers.get("authorization"), f"Bearer {TOKEN}")

    def test_an_existing_repo_is_reused_and_keeps_its_visibility(self) -> None:
        self.hub.repos["alice/my-adapter"] = {"private": False, "files": {}}
        self.pusher().push("alice/my-adapter", self.folder, private=True, message="again")
        self.assertFalse(self.hub.repos["alice/my-adapter"]["private"])
        self.assertEqual(self.hub.repos["alice/my-adapter"]["files"], self.files)

    def test_public_when_asked(self) -> None:
        self.pusher().push("alice/open", self.folder, private=False, message="m")
        self.assertIs(self.hub.create_payloads[0]["private"], False)
        self.assertNotIn("visibility", self.hub.create_payloads[0])
        self.assertFalse(self.hub.repos["alice/open"]["private"])

    def test_a_403_on_create_goes_on_to_upload_into_a_repo_the_token_may_write(self) -> None:
        # Fine-grained tokens: write access to a repo, no right to create repos.
        self.hub.repos["org/shared"] = {"private": True, "files": {}}
        self.hub.fail("POST", r"/api/repos/create", Reply(403, {"error": "You don't have the rights to create a model under org"}))
        repo = self.pusher().push("org/shared", self.folder, private=True, message="m")
        self.assertEqual(repo, "org/shared")
        self.assertEqual(self.hub.repos["org/shared"]["files"], self.files)

    def test_a_403_on_create_of_a_repo_that_does_not_exist_fails_at_the_upload(self) -> None:
        self.hub.fail("POST", r"/api/repos/create", Reply(403, {"error": "no rights"}))
        with self.assertRaises(hub_push.HubError) as caught:
            self.pusher().push("org/missing", self.folder, private=True, message="m")
        self.assertIn("404", str(caught.exception))
        self.assertEqual(self.hub.commits, [])

    def test_a_repo_name_without_owner_goes_to_the_token_owner(self) -> None:
        repo = self.pusher().push("solo", self.folder, private=True, message="m")
        self.assertEqual(repo, "alice/solo")
        self.assertIn("alice/solo", self.hub.repos)

    def test_objects_already_on_the_hub_are_not_uploaded_again(self) -> None:
        big = self.files["adapter_model.safetensors"]
        self.hub.lfs[hashlib.sha256(big).hexdigest()] = big
        self.pusher().push("alice/dedup", self.folder, private=True, message="m")
        self.assertEqual(self.hub.storage.requests, [])
        self.assertEqual(self.hub.repos["alice/dedup"]["files"]["adapter_model.safetensors"], big)

    def test_multipart_uploads_send_each_part_and_complete_with_etags(self) -> None:
        self.hub.multipart_chunk = 2048
        self.pusher().push("alice/parts", self.folder, private=True, message="m")
        parts = self.hub.storage.matching("PUT", r"/part/[0-9a-f]{64}/\d+")
        self.assertEqual([len(p.body) for p in parts], [2048, 2048, 904])
        (completion,) = self.hub.api.matching("POST", r"/lfs-complete/[0-9a-f]{64}")
        self.assertEqual(
            completion.json()["parts"],
            [{"partNumber": n, "etag": f'"etag-{n}"'} for n in (1, 2, 3)],
        )
        self.assertEqual(self.hub.repos["alice/parts"]["files"], self.files)

    def test_429_and_5xx_are_retried_after_retry_after_or_backoff(self) -> None:
        self.hub.fail("POST", r"/api/models/.*/preupload/main", Reply(503, "busy"), Reply(429, "slow", {"Retry-After": "3"}))
        self.hub.fail("PUT", r"/object/.*", Reply(500, "s3 hiccup"))
        self.hub.fail("POST", r"/api/models/.*/commit/main", Reply(502, "bad gateway"))
        self.pusher().push("alice/flaky", self.folder, private=True, message="m")
        self.assertEqual(self.hub.repos["alice/flaky"]["files"], self.files)
        self.assertEqual(len(self.sleeps), 4)
        self.assertEqual(self.sleeps[1], 3.0)  # Retry-After

    def test_a_refused_token_fails_at_once_without_retrying(self) -> None:
        with self.assertRaises(hub_push.HubError) as caught:
            self.pusher(token="wrong").push("alice/x", self.folder, private=True, message="m")
        self.assertIn("401", str(caught.exception))
        self.assertEqual(len(self.hub.api.requests), 1)
        self.assertNotIn("wrong", str(caught.exception))

    def test_invalid_repo_ids_are_refused_before_any_request(self) -> None:
        for repo in ["", "a/b/c", "../etc", "alice/", "-x/y", "alice/$(touch x)", "a b/c"]:
            with self.subTest(repo=repo), self.assertRaises(hub_push.HubError):
                self.pusher().push(repo, self.folder, private=True, message="m")
        self.assertEqual(self.hub.api.requests, [])

    def test_cli_pushes_and_prints_the_repo_without_printing_the_token(self) -> None:
        out, err = io.StringIO(), io.StringIO()
        result_file = os.path.join(self.folder, "..", f"result-{os.getpid()}")
        self.addCleanup(lambda: os.path.exists(result_file) and os.remove(result_file))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = hub_push.main(
                ["--repo-id=alice/cli", f"--folder={self.folder}", "--private=false", f"--result-file={result_file}"],
                env={"HF_TOKEN": TOKEN, "HF_ENDPOINT": self.hub.url},
            )
        self.assertEqual(code, 0)
        self.assertEqual(out.getvalue().strip(), "alice/cli")
        with open(result_file) as handle:
            self.assertEqual(handle.read().strip(), "alice/cli")
        self.assertFalse(self.hub.repos["alice/cli"]["private"])
        self.assertNotIn(TOKEN, out.getvalue() + err.getvalue())

    def test_cli_without_token_fails_clearly(self) -> None:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = hub_push.main(["--repo-id=alice/x", f"--folder={self.folder}"], env={"HF_ENDPOINT": self.hub.url})
        self.assertEqual(code, 1)
        self.assertIn("HF_TOKEN is not set", err.getvalue())
        self.assertEqual(self.hub.api.requests, [])

    def test_an_empty_folder_is_an_error(self) -> None:
        empty = tempfile.mkdtemp(prefix="tg-empty-")
        self.addCleanup(shutil.rmtree, empty, True)
        with self.assertRaises(hub_push.HubError):
            self.pusher().push("alice/x", empty, private=True, message="m")


if __name__ == "__main__":
    unittest.main()
