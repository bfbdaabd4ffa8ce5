"""Local HTTP fakes for the trainer tests: the gateway's pod routes, RunPod's REST API, the Hub.

Every fake is a real HTTP server on 127.0.0.1 and a random port, so the code under test talks
HTTP exactly as it does on a pod. Tests wait on events and conditions, never on fixed sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Tuple

RESET = "reset"  # close the connection without an answer
GARBAGE = "garbage"  # answer bytes that are not HTTP
STREAM = "stream"  # answer without Content-Length


class Request:
    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes) -> None:
        parsed = urllib.parse.urlsplit(path)
        self.method = method
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query)
        self.headers = headers  # lower-cased names
        self.body = body
        self.at = time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Reply:
    def __init__(self, status: int = 200, body: Any = b"", headers: Optional[Dict[str, str]] = None, action: str = "") -> None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        elif isinstance(body, str):
            body = body.encode()
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.action = action


App = Callable[[Request], Reply]


class LocalServer:
    """A threaded HTTP server calling `app` for every request and recording what it received."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: List[Request] = []
        self.cond = threading.Condition()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                try:
                    reply = server.app(request)
                except Exception as exc:  # noqa: BLE001 - a fake bug must show up as a 599
                    reply = Reply(599, f"fake server error: {exc!r}")
                with server.cond:
                    server.requests.append(request)
                    server.cond.notify_all()
                if reply.action == RESET:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if reply.action == GARBAGE:
                    self.close_connection = True
                    self.wfile.write(b"this is not HTTP\r\n\r\n")
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.action == STREAM:
                    # No length: the body ends when the connection closes, as some servers do.
                    self.close_connection = True
                    self.send_header("Connection", "close")
                else:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def wait_for(self, predicate: Callable[[List[Request]], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def matching(self, method: str, pattern: str) -> List[Request]:
        with self.cond:
            return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A URL where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


class ScriptedGateway:
    """The gateway's metrics route: answers from a script, then 200; records accepted points."""

    def __init__(self, token: str = "job-token") -> None:
        self.token = token
        self.script: List[Reply] = []
        self.default = lambda: Reply(200, {"status": "ok", "accepted": 0, "stop": False})
        self.accepted: List[Dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            reply = self.script.pop(0) if self.script else None
        if reply is None:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Reply(401, {"error": "unauthorized"})
            reply = self.default()
        if 200 <= reply.status < 300 and not reply.action:
            with self.lock:
                self.accepted.extend(request.json()["metrics"])
        return reply


class FakeArtifacts:
    """The gateway's artifact route (`PUT`/`HEAD /api/training/jobs/:jobId/artifact`), as strict as the
    real one: a chunk must start at the received offset, the last one must carry the right SHA-256 (else 422
    and nothing kept), a finished upload answers 409. `break_next(n)` makes the next PUT keep only its first
    `n` bytes and drop the connection without an answer, as a network failure mid-chunk does."""

    def __init__(self, job_id: str, token: str) -> None:
        self.path = f"/api/training/jobs/{job_id}/artifact"
        self.token = token
        self.data = bytearray()
        self.total: Optional[int] = None
        self.complete = False
        self.breaks: List[int] = []
        self.script: List[Reply] = []  # answers to the next PUTs instead of storing them
        self.lock = threading.Lock()

    def break_next(self, keep: int) -> None:
        self.breaks.append(keep)

    def __call__(self, request: Request) -> Optional[Reply]:
        if request.path != self.path or request.method not in ("PUT", "HEAD"):
            return None
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "unauthorized"})
        with self.lock:
            if request.method == "HEAD":
                headers = {"Upload-Offset": str(len(self.data)), "Upload-Complete": str(self.complete).lower()}
                return Reply(200, b"", headers)
            if self.script:
                return self.script.pop(0)
            if self.complete:
                return Reply(409, {"error": "the artifact is already complete"})
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", request.headers.get("content-range", ""))
            if not match:
                return Reply(400, {"error": "Content-Range must be `bytes <first>-<last>/<total or *>`"})
            first, last = int(match.group(1)), int(match.group(2))
            total = None if match.group(3) == "*" else int(match.group(3))
            if first != len(self.data):
                return Reply(400, {"error": "wrong offset", "received": len(self.data)})
            if last - first + 1 != len(request.body):
                return Reply(400, {"error": "Content-Length differs from Content-Range"})
            if self.breaks:
                self.data.extend(request.body[: self.breaks.pop(0)])
                return Reply(action=RESET)
            self.data.extend(request.body)
            self.total = total if total is not None else self.total
            if total is not None and len(self.data) == total:
                if hashlib.sha256(self.data).hexdigest() != request.headers.get("x-content-sha256"):
                    self.data = bytearray()
                    return Reply(422, {"error": "X-Content-SHA256 does not match; nothing was kept"})
                self.complete = True
            return Reply(200, {"status": "ok", "received": len(self.data), "complete": self.complete})


# ---------------------------------------------------------------------------------------------
# Fake Hugging Face Hub: an API server plus a separate "storage" server (another origin, as S3 is)
# ---------------------------------------------------------------------------------------------


class FakeHub:
    def __init__(self, token: str = "hf-token", lfs_threshold: int = 1024, user: str = "alice") -> None:
        self.token = token
        self.lfs_threshold = lfs_threshold
        self.user = user
        self.repos: Dict[str, Dict[str, Any]] = {}
        self.lfs: Dict[str, bytes] = {}
        self.parts: Dict[Tuple[str, int], bytes] = {}
        self.multipart_chunk: Optional[int] = None
        self.failures: Dict[Tuple[str, str], List[Reply]] = {}  # (method, path regex) -> replies
        self.commits: List[List[Dict[str, Any]]] = []
        self.create_payloads: List[Dict[str, Any]] = []
        # Datasets (for bootstrap.sh's hf:// download): repo -> {path: bytes}; the same files at every
        # revision. access: repo -> "gated" (a valid token that accepted the terms) or "private"
        # (a valid token); public when absent. accepted: gated repos whose terms the token accepted.
        self.datasets: Dict[str, Dict[str, bytes]] = {}
        self.dataset_access: Dict[str, str] = {}
        self.accepted: set = set()
        self.blobs: Dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.storage = LocalServer(self._storage)
        self.api = LocalServer(self._api)

    @property
    def url(self) -> str:
        return self.api.url

    def fail(self, method: str, pattern: str, *replies: Reply) -> None:
        self.failures.setdefault((method, pattern), []).extend(replies)

    def close(self) -> None:
        self.api.close()
        self.storage.close()

    def _scripted(self, request: Request) -> Optional[Reply]:
        with self.lock:
            for (method, pattern), replies in self.failures.items():
                if replies and method == request.method and re.fullmatch(pattern, request.path):
                    return replies.pop(0)
        return None

    def _api(self, request: Request) -> Reply:
        scripted = self._scripted(request)
        if scripted:
            return scripted
        dataset = self._dataset(request)
        if dataset:
            return dataset
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "Invalid credentials"})
        path = request.path
        if request.method == "GET" and path == "/api/whoami-v2":
            return Reply(200, {"name": self.user, "type": "user"})
        if request.method == "POST" and path == "/api/repos/create":
            payload = request.json()
            self.create_payloads.append(payload)
            if "private" in payload and "visibility" in payload:
                return Reply(400, {"error": "send either private or visibility"})
            repo = f"{payload.get('organization') or self.user}/{payload['name']}"
            if repo in self.repos:
                return Reply(409, {"error": "You already created this model repo", "url": f"{self.url}/{repo}"})
            private = payload["private"] if "private" in payload else payload.get("visibility") == "private"
            self.repos[repo] = {"private": bool(private), "files": {}}
            return Reply(200, {"url": f"{self.url}/{repo}"})
        match = re.fullmatch(r"/api/models/([^/]+/[^/]+)", path)
        if match and request.method == "GET":  # repo_info
            if match.group(1) not in self.repos:
                return Reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return Reply(200, {"id": match.group(1), "private": self.repos[match.group(1)]["private"], "sha": "0" * 40})
        match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/preupload/main", path)
        if match and request.method == "POST":
            if match.group(1) not in self.repos:
                return Reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            files = request.json()["files"]
            return Reply(
                200,
                {
                    "files": [
                        {
                            "path": f["path"],
                            "uploadMode": "lfs" if f["size"] >= self.lfs_threshold else "regular",
                            "shouldIgnore": False,
                        }
                        for f in files
                    ]
                },
            )
        match = re.fullmatch(r"/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
        if match and request.method == "POST":
            return self._lfs_batch(request)
        match = re.fullmatch(r"/lfs-complete/([0-9a-f]{64})", path)
        if match and request.method == "POST":
            return self.complete_multipart(request)
        match = re.fullmatch(r"/lfs-verify/([0-9a-f]{64})", path)
        if match and request.method == "POST":
            return Reply(200, {}) if match.group(1) in self.lfs else Reply(404, {"error": "not stored"})
        match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/commit/main", path)
        if match and request.method == "POST":
            return self._commit(match.group(1), request)
        return Reply(404, {"error": f"no route {request.method} {path}"})

    def _dataset(self, request: Request) -> Optional[Reply]:
        """GET /api/datasets/<repo>/revision/<rev>[?blobs=true] and GET /datasets/<repo>/resolve/<rev>/<path>,
        the latter answered with a redirect to the storage origin, as the Hub does for large files."""
        path = request.path
        info = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/revision/([^/]+)", path)
        resolve = re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        match = info or resolve
        if request.method != "GET" or not match:
            return None
        repo = match.group(1)
        if repo not in self.datasets:
            return Reply(404, {"error": "Repository not found"})
        access = self.dataset_access.get(repo)
        authorized = request.headers.get("authorization") == f"Bearer {self.token}"
        if access and not authorized:
            return Reply(401, {"error": f"Access to dataset {repo} is restricted. You must be authenticated."})
        if access == "gated" and repo not in self.accepted:
            return Reply(403, {"error": f"Access to dataset {repo} is restricted and you are not in the authorized list."})
        files = self.datasets[repo]
        if info:
            blobs = request.query.get("blobs") == ["true"]
            siblings = [{"rfilename": name, **({"size": len(data)} if blobs else {})} for name, data in sorted(files.items())]
            return Reply(200, {"id": repo, "sha": "1" * 40, "siblings": siblings})
        name = urllib.parse.unquote(match.group(3))
        if name not in files:
            return Reply(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        oid = hashlib.sha256(files[name]).hexdigest()
        self.blobs[oid] = files[name]
        return Reply(302, b"", {"Location": f"{self.storage.url}/blob/{oid}?X-Signature=secret"})

    def _lfs_batch(self, request: Request) -> Reply:
        payload = request.json()
        objects = []
        for obj in payload["objects"]:
            oid, size = obj["oid"], obj["size"]
            if oid in self.lfs:
                objects.append({"oid": oid, "size": size})
                continue
            if self.multipart_chunk:
                count = -(-size // self.multipart_chunk)
                header = {"chunk_size": str(self.multipart_chunk)}
                header.update({str(n): f"{self.storage.url}/part/{oid}/{n}?X-Signature=secret" for n in range(1, count + 1)})
                upload = {"href": f"{self.url}/lfs-complete/{oid}", "header": header}
            else:
                upload = {"href": f"{self.storage.url}/object/{oid}?X-Signature=secret"}
            objects.append(
                {"oid": oid, "size": size, "actions": {"upload": upload, "verify": {"href": f"{self.url}/lfs-verify/{oid}"}}}
            )
        return Reply(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def _commit(self, repo: str, request: Request) -> Reply:
        if repo not in self.repos:
            return Reply(404, {"error": "Repository not found"})
        if request.headers.get("content-type") != "application/x-ndjson":
            return Reply(400, {"error": "expected ndjson"})
        lines = [json.loads(line) for line in request.body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return Reply(400, {"error": "the first line must be the header"})
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                self.repos[repo]["files"][value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return Reply(400, {"error": f"lfs object {value['oid']} was never uploaded"})
                self.repos[repo]["files"][value["path"]] = self.lfs[value["oid"]]
            else:
                return Reply(400, {"error": f"unknown key {line['key']}"})
        self.commits.append(lines)
        return Reply(200, {"success": True, "commitOid": "0" * 40, "commitUrl": f"{self.url}/{repo}/commit/{'0' * 40}"})

    def _storage(self, request: Request) -> Reply:
        scripted = self._scripted(request)
        if scripted:
            return scripted
        match = re.fullmatch(r"/object/([0-9a-f]{64})", request.path)
        if match and request.method == "PUT":
            if hashlib.sha256(request.body).hexdigest() != match.group(1):
                return Reply(400, "sha256 mismatch")
            self.lfs[match.group(1)] = request.body
            return Reply(200)
        match = re.fullmatch(r"/blob/([0-9a-f]{64})", request.path)
        if match and request.method == "GET" and match.group(1) in self.blobs:
            return Reply(200, self.blobs[match.group(1)])
        match = re.fullmatch(r"/part/([0-9a-f]{64})/(\d+)", request.path)
        if match and request.method == "PUT":
            self.parts[(match.group(1), int(match.group(2)))] = request.body
            return Reply(200, headers={"ETag": f'"etag-{match.group(2)}"'})
        return Reply(404, "no such storage route")

    def complete_multipart(self, request: Request) -> Reply:
        payload = request.json()
        oid = payload["oid"]
        data = b"".join(self.parts[(oid, part["partNumber"])] for part in payload["parts"])
        if hashlib.sha256(data).hexdigest() != oid:
            return Reply(400, {"error": "assembled object does not match its oid"})
        self.lfs[oid] = data
        return Reply(200, {})
