#!/usr/bin/env python3
"""Uploads a folder to the TrainGate gateway as one tar (`PUT /api/training/jobs/:jobId/artifact`).

Standard library only. The folder is packed once into `--tar` (beside it, a `.sha256` file), so that a
restarted container resumes the same bytes; then the tar goes up in chunks (`Content-Range`), the last one
with `X-Content-SHA256`. Before every chunk after a failure, `HEAD` asks the gateway how much it holds
(`Upload-Offset`), so a broken connection or a restarted gateway costs at most one chunk. The job token is
read from the environment (`JOB_TOKEN`), never from the command line, and never printed.

Exit codes: 0 stored (the `gateway://<jobId>` URI is written to `--result-file`), 1 gave up after retries,
2 refused for good (401, 413, a bad argument).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import sys
import tarfile
import time
import urllib.parse
from typing import Dict, Optional, Tuple

PERMANENT = 2


class Refused(Exception):
    """The gateway will not take this upload, whatever we retry."""


class Rejected(Exception):
    """The gateway checked the whole upload and kept nothing (422): only a new upload from 0 can help."""


def log(message: str) -> None:
    print(f"traingate: {message}", file=sys.stderr, flush=True)


def pack(folder: str, tar_path: str) -> Tuple[int, str]:
    """The tar of `folder` (names relative to it) and its SHA-256, made once and reused after a restart."""
    digest_path = tar_path + ".sha256"
    if os.path.exists(tar_path) and os.path.exists(digest_path):
        with open(digest_path, encoding="ascii") as handle:
            digest = handle.read().strip()
        if len(digest) == 64:
            return os.path.getsize(tar_path), digest
    part = tar_path + ".part"
    with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as archive:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                archive.add(path, arcname=os.path.relpath(path, folder), recursive=False)
    digest = hashlib.sha256()
    with open(part, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    with open(digest_path, "w", encoding="ascii") as handle:
        handle.write(digest.hexdigest())
    os.replace(part, tar_path)
    return os.path.getsize(tar_path), digest.hexdigest()


class Gateway:
    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.url = urllib.parse.urlsplit(url)
        if self.url.scheme not in ("http", "https"):
            raise Refused(f"the artifact URL must be http(s), got {self.url.scheme!r}")
        self.token = token
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        return cls(self.url.netloc, timeout=self.timeout)

    def request(
        self, method: str, headers: Dict[str, str], body: Optional[bytes] = None
    ) -> Tuple[int, Dict[str, str], bytes]:
        connection = self._connection()
        try:
            connection.request(
                method, self.url.path, body=body, headers={"Authorization": f"Bearer {self.token}", **headers}
            )
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def offset(self) -> Tuple[int, bool]:
        status, headers, _ = self.request("HEAD", {})
        if status == 401:
            raise Refused("the gateway refused the job token (401)")
        if status != 200:
            raise OSError(f"HEAD answered {status}")
        return int(headers.get("upload-offset", "0")), headers.get("upload-complete") == "true"


def upload(gateway: Gateway, tar_path: str, size: int, digest: str, chunk: int, attempts: int, base: float) -> None:
    failures = 0
    offset: Optional[int] = None  # unknown: ask first
    with open(tar_path, "rb") as handle:
        while True:
            try:
                if offset is None:
                    offset, complete = gateway.offset()
                    if complete:
                        log("the gateway already holds the complete artifact")
                        return
                    if offset > size:
                        raise Refused(f"the gateway holds {offset} bytes of a {size}-byte artifact")
                last = min(offset + chunk, size) - 1
                handle.seek(offset)
                body = handle.read(last - offset + 1)
                headers = {
                    "Content-Type": "application/x-tar",
                    "Content-Range": f"bytes {offset}-{last}/{size}",
                }
                if last + 1 == size:
                    headers["X-Content-SHA256"] = digest
                status, _, data = gateway.request("PUT", headers, body)
                answer = _json(data)
                if status == 200:
                    failures = 0
                    offset = int(answer.get("received", last + 1))
                    if answer.get("complete"):
                        log(f"uploaded {size} bytes to the gateway (sha256 {digest[:12]}…)")
                        return
                    continue
                if status == 409:
                    log("the gateway says the artifact is already complete")
                    return
                if status in (401, 413):
                    raise Refused(f"the gateway refused the upload ({status}): {answer.get('error', '')}")
                if status == 400 and "received" in answer:
                    # Out of step (an earlier chunk landed after all): continue from where the gateway is.
                    offset = int(answer["received"])
                    failures += 1
                elif status == 422:
                    # Nothing was kept: the bytes changed on the way, or the tar did; one more try from 0.
                    raise Rejected(f"the gateway rejected the upload (422): {answer.get('error', '')}")
                elif status == 400:
                    raise Refused(f"the gateway refused a chunk (400): {answer.get('error', '')}")
                else:
                    raise OSError(f"PUT answered {status}")
            except (Refused, Rejected):
                raise
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures += 1
                offset = None
                if failures >= attempts:
                    raise
                delay = min(60.0, base * 2 ** (failures - 1))
                delay = delay / 2 + random.random() * delay / 2
                log(f"artifact upload interrupted ({exc}); resuming in {delay:.1f}s")
                time.sleep(delay)


def _json(data: bytes) -> Dict[str, object]:
    try:
        value = json.loads(data.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="$METRICS_API_URL/$JOB_ID/artifact")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--tar", required=True, help="where the tar is packed (kept for a resumed upload)")
    parser.add_argument("--uri", required=True, help="what to write to --result-file once stored")
    parser.add_argument("--result-file", required=True)
    parser.add_argument("--chunk-bytes", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--attempts", type=int, default=8)
    parser.add_argument("--retry-base", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    token = os.environ.get("JOB_TOKEN", "")
    if not token:
        log("JOB_TOKEN is not set")
        return PERMANENT
    if not os.path.isdir(args.folder):
        log(f"{args.folder} is not a folder")
        return PERMANENT
    size, digest = pack(args.folder, args.tar)
    log(f"packed {args.folder}: {size} bytes")
    try:
        gateway = Gateway(args.url, token, args.timeout)
        try:
            upload(gateway, args.tar, size, digest, args.chunk_bytes, args.attempts, args.retry_base)
        except Rejected as exc:
            log(f"{exc}; packing again and starting over")
            # The gateway kept nothing: pack again (the tar may be what changed) and start from 0, once.
            for stale in (args.tar, args.tar + ".sha256"):
                if os.path.exists(stale):
                    os.remove(stale)
            size, digest = pack(args.folder, args.tar)
            upload(gateway, args.tar, size, digest, args.chunk_bytes, args.attempts, args.retry_base)
    except Refused as exc:
        log(str(exc))
        return PERMANENT
    except (Rejected, OSError, http.client.HTTPException, ValueError) as exc:
        log(f"the artifact upload failed: {exc}")
        return 1
    with open(args.result_file, "w", encoding="utf-8") as handle:
        handle.write(args.uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
