#!/usr/bin/env python3
"""Upload a folder to a Hugging Face Hub model repo.

On the pod huggingface_hub is installed (requirements.txt): the upload is its
HfApi.create_repo(exist_ok=True) + upload_folder (Xet storage when hf_xet is installed, LFS
otherwise). A 403 from the repo creation does not stop it: fine-grained tokens may write to a repo
they cannot create, so the upload is tried anyway and says itself whether the token may write.

Without huggingface_hub (it does not import) a standard-library client does the same over the
Hub's HTTP API, in the flow huggingface_hub's create_commit uses:
  1. POST {endpoint}/api/repos/create {name, organization, private, type: "model"}
     (409: the repo exists already, which is fine; its visibility is left as it is; 403: maybe
     it exists and the token may only write to it, so go on);
  2. POST {endpoint}/api/models/{repo}/preupload/{revision} with path/size/sample per file:
     the Hub answers "regular" or "lfs" per file;
  3. for lfs files, the git-lfs batch API POST {endpoint}/{repo}.git/info/lfs/objects/batch,
     then a PUT of the bytes to each returned href (or one PUT per part and a completion POST
     when the action carries chunk_size), then the optional verify POST;
  4. POST {endpoint}/api/models/{repo}/commit/{revision} as NDJSON: a header line, then one
     "file" line (base64 content) per regular file and one "lfsFile" line per lfs file.

Usage: hub_push.py --repo-id=[OWNER/]NAME --folder=DIR [--private=true|false] [--commit-message=TEXT]
                   [--revision=main] [--result-file=PATH]
The token comes from HF_TOKEN, the endpoint from HF_ENDPOINT (default https://huggingface.co).
The token is sent only to the endpoint's own origin (never to the storage URLs the Hub hands
out for uploads) and is never printed. Calls are retried on network errors, 429 and 5xx.
The last line on stdout is the repo id the files went to.
"""
# (The standard-library client sends `private` only: huggingface_hub refuses `private` together
# with `visibility`, and every Hub version reads `private`.)

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, BinaryIO, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

LOG = logging.getLogger("traingate.hub")

REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
LFS_HEADERS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
_PREUPLOAD_CHUNK = 256  # files per preupload call, as huggingface_hub does
_READ_BLOCK = 1 << 20


class HubError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class LocalFile:
    path_in_repo: str
    local_path: str
    size: int
    sha256: str
    sample: bytes  # the first 512 bytes: the Hub decides regular vs lfs from them


def describe_file(local_path: str, path_in_repo: str) -> LocalFile:
    digest = hashlib.sha256()
    with open(local_path, "rb") as handle:
        sample = handle.read(512)
        digest.update(sample)
        for block in iter(lambda: handle.read(_READ_BLOCK), b""):
            digest.update(block)
    return LocalFile(path_in_repo, local_path, os.path.getsize(local_path), digest.hexdigest(), sample)


def collect_files(folder: str) -> List[LocalFile]:
    """Every file under `folder`, with a POSIX path relative to it; .git is left out."""
    files: List[LocalFile] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            local = os.path.join(root, name)
            if not os.path.isfile(local):
                continue
            relative = os.path.relpath(local, folder).replace(os.sep, "/")
            files.append(describe_file(local, relative))
    return files


def _origin(url: str) -> Tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme.lower(), parsed.netloc.lower()


Body = Union[None, bytes, Callable[[], Tuple[BinaryIO, int]]]


class HubClient:
    """Small HTTP client for the Hub: bearer auth on the Hub's origin only, retries, Retry-After."""

    RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Optional[random.Random] = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._token = token
        self.attempts = max(1, attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout = timeout
        self._sleep = sleep
        self._rng = rng or random.Random()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Body = None,
        headers: Optional[Mapping[str, str]] = None,
        ok: Sequence[int] = (200, 201),
    ) -> Tuple[int, Mapping[str, str], bytes]:
        """Send with retries; returns (status, headers, body) for a status in `ok`, else HubError.

        `body` is bytes, or a factory returning (file object, length) so that a retry re-reads
        the file from the start instead of holding it in memory.
        """
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            all_headers = {"User-Agent": "traingate-hub-push/1"}
            all_headers.update(headers or {})
            if _origin(url) == _origin(self.endpoint):
                all_headers["Authorization"] = f"Bearer {self._token}"
            handle: Optional[BinaryIO] = None
            data: Any = body
            if callable(body):
                handle, length = body()
                data = handle
                all_headers["Content-Length"] = str(length)
            request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
            retry_after: Optional[str] = None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    payload = response.read()
                    status, response_headers = response.status, response.headers
            except urllib.error.HTTPError as exc:
                status, response_headers = exc.code, exc.headers
                try:
                    payload = exc.read()
                except Exception:  # noqa: BLE001
                    payload = b""
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
            except Exception as exc:  # noqa: BLE001 - refused, reset, timeout...
                status, response_headers, payload = 0, {}, b""
                last_error = f"{type(exc).__name__}: {exc}"
            finally:
                if handle is not None:
                    handle.close()
            if status in ok:
                return status, response_headers, payload
            if status and status not in self.RETRY_STATUSES:
                raise HubError(f"{method} {_redact(url)} answered {status}: {_snippet(payload)}")
            if status:
                last_error = f"HTTP {status}: {_snippet(payload)}"
            if attempt == self.attempts:
                break
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
            delay = delay / 2 + self._rng.uniform(0, delay / 2)
            hinted = _seconds(retry_after)
            if hinted is not None:
                delay = min(hinted, self.backoff_max)
            LOG.warning("%s %s failed (%s); retry %d in %.1fs", method, _redact(url), last_error, attempt, delay)
            self._sleep(delay)
        raise HubError(f"{method} {_redact(url)} failed after {self.attempts} attempts: {last_error}")

    def json(self, method: str, url: str, payload: Any, ok: Sequence[int] = (200, 201)) -> Tuple[int, Any]:
        status, _, body = self.request(
            method, url, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, ok=ok
        )
        try:
            return status, json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError) as exc:
            raise HubError(f"{method} {_redact(url)} answered non-JSON: {_snippet(body)}") from exc


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _snippet(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace").replace("\n", " ")


def _redact(url: str) -> str:
    """Storage URLs carry signatures in their query string: keep them out of logs."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _no_token(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _quote_repo(repo_id: str) -> str:
    return "/".join(urllib.parse.quote(part, safe="") for part in repo_id.split("/"))


class HubPusher:
    def __init__(self, client: HubClient, revision: str = "main") -> None:
        self.client = client
        self.revision = revision

    @property
    def endpoint(self) -> str:
        return self.client.endpoint

    def resolve_repo_id(self, repo_id: str) -> str:
        if "/" in repo_id:
            return repo_id
        _, _, body = self.client.request("GET", f"{self.endpoint}/api/whoami-v2")
        try:
            whoami = json.loads(body.decode("utf-8"))
            return f"{whoami['name']}/{repo_id}"
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise HubError("cannot learn the token's user name from /api/whoami-v2") from exc

    def create_repo(self, repo_id: str, private: bool) -> Optional[bool]:
        """True when created, False when it existed (409), None when refused with 403 (the token may
        still write to an existing repo: the upload finds out)."""
        organization, name = repo_id.split("/", 1)
        payload = {"name": name, "organization": organization, "type": "model", "private": private}
        status, _, body = self.client.request(
            "POST",
            f"{self.endpoint}/api/repos/create",
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            ok=(200, 201, 409, 403),
        )
        if status == 403:
            LOG.warning(
                "the Hub refused to create %s (403: %s); it may exist already and the token only write to it: "
                "trying the upload",
                repo_id,
                _snippet(body),
            )
            return None
        return status != 409

    def upload_modes(self, repo_id: str, files: Sequence[LocalFile]) -> Dict[str, Tuple[str, bool]]:
        """path -> (regular|lfs, should_ignore)."""
        modes: Dict[str, Tuple[str, bool]] = {}
        url = f"{self.endpoint}/api/models/{_quote_repo(repo_id)}/preupload/{urllib.parse.quote(self.revision, safe='')}"
        for start in range(0, len(files), _PREUPLOAD_CHUNK):
            chunk = files[start : start + _PREUPLOAD_CHUNK]
            payload = {
                "files": [
                    {"path": f.path_in_repo, "sample": base64.b64encode(f.sample).decode("ascii"), "size": f.size}
                    for f in chunk
                ]
            }
            _, answer = self.client.json("POST", url, payload)
            entries = answer.get("files") if isinstance(answer, dict) else None
            if not isinstance(entries, list):
                raise HubError("preupload answer has no files list")
            for entry in entries:
                if not isinstance(entry, dict) or entry.get("uploadMode") not in ("regular", "lfs"):
                    raise HubError(f"preupload answer is malformed: {entry!r}"[:300])
                modes[str(entry.get("path"))] = (entry["uploadMode"], bool(entry.get("shouldIgnore")))
        for f in files:
            if f.path_in_repo not in modes:
                raise HubError(f"preupload answer does not mention {f.path_in_repo}")
            if f.size == 0:
                modes[f.path_in_repo] = ("regular", modes[f.path_in_repo][1])  # LFS cannot store empty files
        return modes

    def upload_lfs(self, repo_id: str, files: Sequence[LocalFile]) -> None:
        if not files:
            return
        url = f"{self.endpoint}/{_quote_repo(repo_id)}.git/info/lfs/objects/batch"
        payload = {
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": [{"oid": f.sha256, "size": f.size} for f in files],
            "hash_algo": "sha256",
            "ref": {"name": self.revision},
        }
        _, _, body = self.client.request("POST", url, body=json.dumps(payload).encode(), headers=LFS_HEADERS)
        try:
            objects = json.loads(body.decode("utf-8"))["objects"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise HubError(f"LFS batch answer is malformed: {_snippet(body)}") from exc
        by_oid = {f.sha256: f for f in files}
        for obj in objects:
            if not isinstance(obj, dict) or obj.get("oid") not in by_oid:
                raise HubError(f"LFS batch answer names an unknown object: {obj!r}"[:300])
            if obj.get("error"):
                raise HubError(f"LFS batch refused {by_oid[obj['oid']].path_in_repo}: {obj['error']}"[:300])
            actions = obj.get("actions")
            if not actions:
                LOG.info("%s is already stored on the Hub", by_oid[obj["oid"]].path_in_repo)
                continue
            self._upload_object(by_oid[obj["oid"]], actions)

    def _upload_object(self, f: LocalFile, actions: Mapping[str, Any]) -> None:
        upload = actions.get("upload")
        if not isinstance(upload, dict) or not isinstance(upload.get("href"), str):
            raise HubError(f"LFS batch answer has no upload action for {f.path_in_repo}")
        header = upload.get("header") or {}
        if "chunk_size" in header:
            self._upload_multipart(f, upload["href"], header)
        else:
            extra = {k: str(v) for k, v in header.items()}

            def body() -> Tuple[BinaryIO, int]:
                return open(f.local_path, "rb"), f.size

            self.client.request("PUT", upload["href"], body=body, headers=extra, ok=(200, 201, 204))
        LOG.info("uploaded %s (%d bytes) to LFS storage", f.path_in_repo, f.size)
        verify = actions.get("verify")
        if isinstance(verify, dict) and isinstance(verify.get("href"), str):
            self.client.request(
                "POST",
                verify["href"],
                body=json.dumps({"oid": f.sha256, "size": f.size}).encode(),
                headers=LFS_HEADERS,
            )

    def _upload_multipart(self, f: LocalFile, completion_url: str, header: Mapping[str, Any]) -> None:
        try:
            chunk_size = int(header["chunk_size"])
        except (TypeError, ValueError) as exc:
            raise HubError("LFS multipart answer has a bad chunk_size") from exc
        part_urls = [url for _, url in sorted((int(k), v) for k, v in header.items() if str(k).isdigit())]
        if chunk_size <= 0 or len(part_urls) != math.ceil(f.size / chunk_size):
            raise HubError(f"LFS multipart answer does not match the size of {f.path_in_repo}")
        parts = []
        with open(f.local_path, "rb") as handle:
            for number, part_url in enumerate(part_urls, start=1):
                handle.seek((number - 1) * chunk_size)
                data = handle.read(chunk_size)
                _, headers, _ = self.client.request("PUT", part_url, body=data, ok=(200, 201, 204))
                etag = headers.get("etag") or headers.get("ETag")
                if not etag:
                    raise HubError(f"part {number} of {f.path_in_repo} came back without an ETag")
                parts.append({"partNumber": number, "etag": etag})
        self.client.request(
            "POST",
            completion_url,
            body=json.dumps({"oid": f.sha256, "parts": parts}).encode(),
            headers=LFS_HEADERS,
        )

    def commit(self, repo_id: str, regular: Sequence[LocalFile], lfs: Sequence[LocalFile], message: str) -> Any:
        lines: List[Dict[str, Any]] = [{"key": "header", "value": {"summary": message, "description": ""}}]
        for f in regular:
            with open(f.local_path, "rb") as handle:
                content = base64.b64encode(handle.read()).decode("ascii")
            lines.append({"key": "file", "value": {"content": content, "path": f.path_in_repo, "encoding": "base64"}})
        for f in lfs:
            lines.append(
                {"key": "lfsFile", "value": {"path": f.path_in_repo, "algo": "sha256", "oid": f.sha256, "size": f.size}}
            )
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        url = f"{self.endpoint}/api/models/{_quote_repo(repo_id)}/commit/{urllib.parse.quote(self.revision, safe='')}"
        _, _, answer = self.client.request("POST", url, body=body, headers={"Content-Type": "application/x-ndjson"})
        try:
            return json.loads(answer.decode("utf-8")) if answer else None
        except (ValueError, UnicodeDecodeError):
            return None

    def push(self, repo_id: str, folder: str, private: bool, message: str) -> str:
        if not REPO_ID_RE.match(repo_id) or ".." in repo_id:
            raise HubError(f"not a valid Hub repo id: {repo_id!r}")
        files = collect_files(folder)
        if not files:
            raise HubError(f"nothing to upload: {folder} is empty")
        repo_id = self.resolve_repo_id(repo_id)
        created = self.create_repo(repo_id, private)
        if created is not None:
            LOG.info("%s repo %s", "created" if created else "using existing", repo_id)
        modes = self.upload_modes(repo_id, files)
        kept = [f for f in files if not modes[f.path_in_repo][1]]
        lfs = [f for f in kept if modes[f.path_in_repo][0] == "lfs"]
        regular = [f for f in kept if modes[f.path_in_repo][0] == "regular"]
        self.upload_lfs(repo_id, lfs)
        answer = self.commit(repo_id, regular, lfs, message)
        url = answer.get("commitUrl") if isinstance(answer, dict) else None
        LOG.info("committed %d file(s) (%d via LFS)%s", len(kept), len(lfs), f": {url}" if url else "")
        return repo_id


def _retryable(exc: BaseException) -> bool:
    """A huggingface_hub failure worth another attempt: no answer, 408, 429 or 5xx."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is None:
        return isinstance(exc, (OSError, TimeoutError)) and not isinstance(exc, FileNotFoundError)
    return status in HubClient.RETRY_STATUSES


def push_with_library(
    repo_id: str,
    folder: str,
    private: bool,
    message: str,
    *,
    endpoint: str,
    token: str,
    revision: str = "main",
    attempts: int = 6,
    backoff_base: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """huggingface_hub's create_repo(exist_ok=True) + upload_folder; a 403 on create is not fatal."""
    from huggingface_hub import HfApi  # noqa: PLC0415 - optional: the stdlib client stands in

    if not REPO_ID_RE.match(repo_id) or ".." in repo_id:
        raise HubError(f"not a valid Hub repo id: {repo_id!r}")
    if not collect_files(folder):
        raise HubError(f"nothing to upload: {folder} is empty")
    api = HfApi(endpoint=endpoint, token=token)
    if "/" not in repo_id:
        repo_id = f"{api.whoami()['name']}/{repo_id}"
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    except Exception as exc:  # noqa: BLE001 - HfHubHTTPError; anything else goes on below
        if getattr(getattr(exc, "response", None), "status_code", None) != 403:
            raise
        LOG.warning(
            "the Hub refused to create %s (403); it may exist already and the token only write to it: trying the upload",
            repo_id,
        )
    for attempt in range(1, max(1, attempts) + 1):
        try:
            info = api.upload_folder(
                repo_id=repo_id, folder_path=folder, commit_message=message, revision=revision, repo_type="model"
            )
            break
        except Exception as exc:  # noqa: BLE001
            if attempt >= attempts or not _retryable(exc):
                raise
            delay = min(30.0, backoff_base * 2 ** (attempt - 1))
            LOG.warning("upload to %s failed (%s); retry %d in %.1fs", repo_id, exc, attempt, delay)
            sleep(delay)
    LOG.info("committed %s: %s", folder, getattr(info, "commit_url", None) or info)
    return repo_id


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def main(argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None) -> int:
    env = os.environ if env is None else env
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo-id", required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--private", type=_bool, default=True, help="true (default) or false")
    parser.add_argument("--commit-message", default="Upload fine-tuned adapter (TrainGate)")
    parser.add_argument("--revision", default="main")
    parser.add_argument("--result-file", help="also write the repo id the files went to here")
    args = parser.parse_args(argv)

    token = env.get("HF_TOKEN", "")
    if not token:
        print("hub push failed: HF_TOKEN is not set (save a HUGGINGFACE provider secret)", file=sys.stderr)
        return 1
    endpoint = (env.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    attempts = int(env.get("TRAINGATE_HUB_ATTEMPTS") or 6)
    backoff_base = float(env.get("TRAINGATE_RETRY_BASE_SECONDS") or 1.0)
    try:
        import huggingface_hub  # noqa: F401, PLC0415
    except ImportError:
        library = False
    else:
        library = True
    try:
        if library:
            LOG.info("uploading with huggingface_hub %s", huggingface_hub.__version__)
            repo = push_with_library(
                args.repo_id,
                args.folder,
                args.private,
                args.commit_message,
                endpoint=endpoint,
                token=token,
                revision=args.revision,
                attempts=attempts,
                backoff_base=backoff_base,
            )
        else:
            LOG.info("huggingface_hub is not installed: uploading over the Hub's HTTP API")
            client = HubClient(endpoint, token, attempts=attempts, backoff_base=backoff_base)
            repo = HubPusher(client, args.revision).push(args.repo_id, args.folder, args.private, args.commit_message)
    except Exception as exc:  # noqa: BLE001 - HubError, OSError, huggingface_hub's errors: one line, no token
        print(f"hub push failed: {type(exc).__name__}: {_no_token(str(exc), token)}", file=sys.stderr)
        return 1
    if args.result_file:
        with open(args.result_file, "w", encoding="utf-8") as handle:
            handle.write(repo + "\n")
    print(repo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
