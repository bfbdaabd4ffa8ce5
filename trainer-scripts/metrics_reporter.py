"""Send training metrics from the pod to the TrainGate gateway.

Standard library only: this file must import on a bare Python (the bootstrap and the
tests run it without torch/transformers).

Contract (the gateway's metrics callback route):
  POST $METRICS_API_URL/$JOB_ID/metrics, Authorization: Bearer $JOB_TOKEN,
  body {"metrics": [point, ...]} with at most 500 points; answers
  200 {"status": "ok", "accepted": N, "stop": bool}, 400 bad batch, 401 bad token,
  409 job finished, 413 too large, 429/503 with Retry-After.

Delivery: at least once, in step order. A point is kept (in memory, or in a JSONL spool file
while the gateway is unreachable) until the gateway answered 2xx for it; the gateway upserts on
(job, step), so a resend after a lost answer is harmless. Nothing here ever raises into the
training loop: every public method catches and logs.
"""

from __future__ import annotations

import collections
import email.utils
import json
import logging
import math
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

LOG = logging.getLogger("traingate.reporter")

#: Keys of one metric point, exactly as the gateway's metrics route names them.
POINT_KEYS: Tuple[str, ...] = (
    "step",
    "epoch",
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "samples_per_second",
    "elapsed_seconds",
    "remaining_seconds",
    "progress",
    "gpu_memory_allocated_gb",
    "gpu_memory_reserved_gb",
    "gpu_utilization_percent",
)
# The GraphQL type declares these as Int.
_INT_KEYS = frozenset({"elapsed_seconds", "remaining_seconds"})
#: Values whose NaN or infinity the gateway must hear of (a diverged run): JSON has no NaN, so the
#: gateway's contract has them sent as these strings; every other non-finite value is sent as null.
NON_FINITE_KEYS = frozenset({"loss", "eval_loss", "grad_norm"})
NON_FINITE_STRINGS = ("NaN", "Infinity", "-Infinity")
#: The gateway refuses batches over 500 points.
MAX_BATCH = 500
_GIB = float(1024**3)
# What the sender thread does next (see MetricsReporter._wait_until_ready).
_SEND, _SPOOL, _SPOOL_AND_END, _END = "send", "spool", "spool-and-end", "end"


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def finite_or_none(value: Any) -> Optional[float]:
    """A JSON-safe float: NaN, Infinity, bools and non-numbers become None (sent as null)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if hasattr(value, "item"):  # numpy / torch scalars
            value = value.item()
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def finite_or_marker(value: Any) -> Any:
    """A float, None, or for NaN/Infinity/-Infinity the string the gateway takes for it (a spooled
    point already holds the string)."""
    if isinstance(value, str):
        return value if value in NON_FINITE_STRINGS else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isfinite(number):
        return number
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def sanitize_point(raw: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """Every API key, with JSON-safe values (null for what is unknown, and a non-finite loss, eval_loss
    or grad_norm as "NaN", "Infinity" or "-Infinity"); None when the step is unusable.

    Always the full key set, as the simulator's trainer sends it too, so every point
    has the same shape. A bad step would make the gateway answer 400 for the whole batch, so such a
    point is refused here, where only that one point is lost.
    """
    step = raw.get("step")
    if isinstance(step, bool):
        return None
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    if not isinstance(step, int) or step < 0:
        return None
    point: Dict[str, Any] = {"step": step}
    for key in POINT_KEYS[1:]:
        if key in NON_FINITE_KEYS:
            point[key] = finite_or_marker(raw.get(key))
            continue
        value = finite_or_none(raw.get(key))
        if value is not None and key in _INT_KEYS:
            value = int(round(value))
        point[key] = value
    return point


def progress_and_eta(
    step: int, max_steps: Optional[int], elapsed: float, start_step: int = 0
) -> Tuple[Optional[float], Optional[float]]:
    """progress = 100 * step / max_steps; remaining = elapsed / steps_done * (max_steps - step).

    `start_step` is the step this process started at (a resumed run), so that the rate is
    measured over the steps this process actually did.
    """
    if not max_steps or max_steps <= 0:
        return None, None
    progress = max(0.0, min(100.0, 100.0 * step / max_steps))
    done = step - start_step
    if done <= 0 or elapsed < 0:
        return progress, None
    remaining = max(0.0, elapsed / done * (max_steps - step))
    return progress, remaining


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries spread out."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def default_spool_dir(env: Mapping[str, str]) -> str:
    if env.get("TRAINGATE_SPOOL_DIR"):
        return env["TRAINGATE_SPOOL_DIR"]
    return os.path.join(env.get("TRAINGATE_WORKSPACE") or "/workspace", ".traingate-spool")


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------


class _Response:
    __slots__ = ("status", "body", "headers", "error")

    def __init__(self, status: Optional[int], body: bytes = b"", headers: Any = None, error: str = ""):
        self.status = status  # None: no HTTP answer at all (refused, reset, timeout, garbage)
        self.body = body
        self.headers = headers
        self.error = error

    def header(self, name: str) -> Optional[str]:
        try:
            return self.headers.get(name) if self.headers is not None else None
        except Exception:  # noqa: BLE001 - a broken header object must not break the sender
            return None


def _post_json(url: str, token: str, payload: bytes, timeout: float) -> _Response:
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
            "User-Agent": "traingate-trainer/1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL is ours
            return _Response(response.status, response.read(1 << 20), response.headers)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(1 << 16)
        except Exception:  # noqa: BLE001
            body = b""
        return _Response(exc.code, body, exc.headers)
    except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, bad status line, TLS...
        return _Response(None, error=f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------
# Reporter
# ---------------------------------------------------------------------------------------------


class MetricsReporter:
    """Batches metric points and delivers them from a background thread.

    `report(point)` only appends to a bounded in-memory queue and wakes the sender; it never
    blocks on the network and never raises. The sender posts when `batch_size` points are
    waiting or `flush_interval` seconds passed since the oldest one arrived.

    Failures:
      * no answer, 408, 429, 5xx and other unexpected codes: retried with exponential backoff
        and jitter (or after Retry-After when given), and meanwhile everything queued is moved
        to the spool file `<spool_dir>/metrics-<job_id>.jsonl`, which is sent first, in order,
        once the gateway answers again (also by the next process after a container restart);
      * 413: the batch is split and retried;
      * 400: some point of the batch is malformed; the batch is split in halves (bisected) until
        the refused point(s) are alone, and only those are dropped, each logged with its step;
      * 401 (token wrong / unknown job) and 409 (job finished): sending stops for good; a 409
        also sets `stop_requested`, since nobody accepts this job's results any more.

    `stop_requested` (a threading.Event) is set as soon as any answer carries "stop": true.

    When the spool cannot be written, points stay in memory up to `max_memory_points`; past
    that the oldest are dropped and counted in `dropped_points` (the one case that loses data:
    gateway down and disk unwritable at once).
    """

    def __init__(
        self,
        base_url: str,
        job_id: str,
        token: str,
        *,
        spool_dir: Optional[str] = None,
        batch_size: int = 50,
        flush_interval: float = 5.0,
        max_batch: int = MAX_BATCH,
        max_memory_points: int = 100_000,
        timeout: float = 15.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 300.0,
        heartbeat_interval: float = 60.0,
        rng: Optional[random.Random] = None,
        autostart: bool = True,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/{urllib.parse.quote(str(job_id), safe='')}/metrics"
        self._token = token
        self.job_id = str(job_id)
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = max(0.0, float(flush_interval))
        self.max_batch = max(1, min(MAX_BATCH, int(max_batch)))
        self.max_memory_points = max(1, int(max_memory_points))
        self.timeout = float(timeout)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.heartbeat_interval = float(heartbeat_interval)
        self._rng = rng or random.Random()

        self.stop_requested = threading.Event()
        self.disabled_reason: Optional[str] = None
        self.delivered_points = 0
        self.dropped_points = 0  # memory cap hit while the spool was unwritable
        self.rejected_points = 0  # invalid step, or dropped with a 400 batch

        self._cond = threading.Condition()
        self._mem: Deque[Tuple[int, Dict[str, Any], float]] = collections.deque()
        self._spooling: List[Tuple[int, Dict[str, Any], float]] = []  # taken from _mem, being written
        self._seq = 0
        self._closing = False
        self._closed = False
        self._flush_requested = False
        self._inflight = False
        self._failures = 0
        self._next_attempt = 0.0
        self._outage = False
        self._last_request = time.monotonic()
        self._last_point: Optional[Dict[str, Any]] = None
        self._warned: set = set()

        self._spool_path: Optional[str] = None
        self._spool_offset = 0
        self._spool_count = 0
        self._spool_broken = False
        if spool_dir:
            safe_job = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.job_id)
            self._spool_path = os.path.join(spool_dir, f"metrics-{safe_job}.jsonl")
            self._load_existing_spool()

        self._thread = threading.Thread(target=self._run, name="traingate-metrics", daemon=True)
        if autostart:
            self._thread.start()

    # -- construction from the pod's environment ----------------------------------------------

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: Any) -> "MetricsReporter":
        """Build from METRICS_API_URL, JOB_ID, JOB_TOKEN; a no-op reporter when they are missing."""
        env = os.environ if env is None else env
        base, job, token = env.get("METRICS_API_URL"), env.get("JOB_ID"), env.get("JOB_TOKEN")
        if not (base and job and token):
            reporter = cls("http://invalid.invalid", job or "none", "none", autostart=False, **overrides)
            reporter.disabled_reason = "METRICS_API_URL, JOB_ID or JOB_TOKEN is not set"
            LOG.warning("metrics reporting disabled: %s", reporter.disabled_reason)
            return reporter
        overrides.setdefault("spool_dir", default_spool_dir(env))
        try:
            if env.get("TRAINGATE_METRICS_FLUSH_SECONDS"):
                overrides.setdefault("flush_interval", float(env["TRAINGATE_METRICS_FLUSH_SECONDS"]))
        except ValueError:
            LOG.warning("TRAINGATE_METRICS_FLUSH_SECONDS is not a number; using the default")
        return cls(base, job, token, **overrides)

    # -- public API (never raises) -------------------------------------------------------------

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending_locked()

    def report(self, point: Mapping[str, Any]) -> None:
        """Queue one point. Cheap, non-blocking, never raises."""
        try:
            clean = sanitize_point(point)
            if clean is None:
                self.rejected_points += 1
                self._warn_once("bad-step", "metric point without a valid step dropped: %r", point)
                return
            with self._cond:
                if self._closed or self.disabled_reason:
                    return
                self._seq += 1
                self._mem.append((self._seq, clean, time.monotonic()))
                overflow = len(self._mem) - self.max_memory_points
                while overflow > 0:
                    self._mem.popleft()
                    self.dropped_points += 1
                    overflow -= 1
                # Wake the sender for a full batch, during an outage (to spool), or for the first
                # point, so that it starts the flush_interval clock.
                if len(self._mem) >= self.batch_size or self._outage or len(self._mem) == 1:
                    self._cond.notify_all()
        except Exception:  # noqa: BLE001 - never into the training loop
            LOG.exception("metrics reporter: report() failed")

    def flush(self, timeout: float = 30.0) -> bool:
        """Send everything queued now; True when all of it was delivered within `timeout`."""
        try:
            deadline = time.monotonic() + max(0.0, timeout)
            with self._cond:
                if not self._thread.is_alive() and not self._closed and not self.disabled_reason:
                    return self._pending_locked() == 0
                self._flush_requested = True
                self._cond.notify_all()
                while True:
                    if self.disabled_reason:
                        return False
                    if self._pending_locked() == 0 and not self._inflight:
                        self._flush_requested = False
                        return True
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._thread.is_alive():
                        self._flush_requested = False
                        return False
                    self._cond.wait(min(remaining, 0.5))
        except Exception:  # noqa: BLE001
            LOG.exception("metrics reporter: flush() failed")
            return False

    def close(self, timeout: float = 30.0) -> bool:
        """Flush, then stop the sender. What could not be sent stays in the spool file."""
        try:
            start = time.monotonic()
            delivered = self.flush(timeout)
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            if self._thread.is_alive():
                self._thread.join(max(0.1, timeout - (time.monotonic() - start)) + 5.0)
            with self._cond:
                self._closed = True
            return delivered
        except Exception:  # noqa: BLE001
            LOG.exception("metrics reporter: close() failed")
            return False

    def _pending_locked(self) -> int:
        return len(self._mem) + len(self._spooling) + self._spool_count

    # -- sender thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                action = self._wait_until_ready()
                if action in (_SPOOL, _SPOOL_AND_END):
                    self._spool_memory()
                if action in (_END, _SPOOL_AND_END):
                    with self._cond:
                        self._cond.notify_all()
                    return
                if action == _SEND:
                    self._send_one_batch()
            except Exception:  # noqa: BLE001 - the sender must outlive any bug in one iteration
                LOG.exception("metrics reporter: sender iteration failed")
                with self._cond:
                    self._inflight = False
                    self._failures += 1
                    self._next_attempt = time.monotonic() + backoff_delay(
                        self._failures, self.backoff_base, self.backoff_max, self._rng
                    )
                    self._cond.notify_all()

    def _wait_until_ready(self) -> str:
        """Block until there is work: _SEND a batch, _SPOOL memory to disk, or _END (after _SPOOL_AND_END).

        File I/O never happens here, under the lock that report() takes: the caller does it."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self.disabled_reason:
                    self._mem.clear()
                    self._cond.notify_all()
                    if self._closing:
                        return _END
                    self._cond.wait(1.0)
                    continue
                pending = self._pending_locked()
                if self._closing and (pending == 0 or self._outage):
                    # Nothing left, or the gateway is down: keep the rest on disk for a later run.
                    return _SPOOL_AND_END
                if self._outage and self._mem and self._spool_path and not self._spool_broken:
                    return _SPOOL
                if now < self._next_attempt:
                    self._cond.wait(self._next_attempt - now)
                    continue
                if pending == 0:
                    if self._heartbeat_due(now):
                        return _SEND
                    wait = self.heartbeat_interval if self.heartbeat_interval > 0 else None
                    self._cond.wait(wait)
                    continue
                if (
                    self._spool_count
                    or self._outage
                    or self._flush_requested
                    or self._closing
                    or len(self._mem) >= self.batch_size
                ):
                    return _SEND
                oldest = self._mem[0][2]
                due = oldest + self.flush_interval
                if now >= due:
                    return _SEND
                self._cond.wait(due - now)

    def _heartbeat_due(self, now: float) -> bool:
        # Re-sending the last point (an upsert: no change) keeps the "stop" answer flowing when
        # logging is sparse, so a budget stop is seen within heartbeat_interval.
        return (
            self.heartbeat_interval > 0
            and self._last_point is not None
            and now - self._last_request >= self.heartbeat_interval
        )

    def _send_one_batch(self) -> None:
        source, batch, meta = self._take_batch()
        if not batch:
            return
        try:
            payload = json.dumps({"metrics": batch}, allow_nan=False, separators=(",", ":")).encode()
        except ValueError:
            payload = None
        if payload is None:
            # Cannot happen for sanitized points; a spool line edited by hand could do it.
            self._complete(source, batch, meta, delivered=False)
            return
        with self._cond:
            self._inflight = True
        response = _post_json(self.url, self._token, payload, self.timeout)
        self._handle(response, source, batch, meta)

    def _take_batch(self) -> Tuple[str, List[Dict[str, Any]], Any]:
        if self._spool_count and self._spool_path:
            batch, new_offset = self._read_spool(self.max_batch)
            return "spool", batch, new_offset
        with self._cond:
            if self._mem:
                entries = [self._mem[i] for i in range(min(self.max_batch, len(self._mem)))]
                return "mem", [point for _, point, _ in entries], entries[-1][0]
            if self._last_point is not None:
                return "heartbeat", [dict(self._last_point)], None
        return "none", [], None

    def _handle(self, response: _Response, source: str, batch: List[Dict[str, Any]], meta: Any) -> None:
        status = response.status
        with self._cond:
            self._last_request = time.monotonic()
        if status is not None and 200 <= status < 300:
            self._note_stop(response.body)
            self._complete(source, batch, meta, delivered=True)
            with self._cond:
                self._failures = 0
                self._outage = False
                self._next_attempt = 0.0
            return
        if status == 400 and len(batch) > 1:
            LOG.warning("metrics batch of %d points refused (400); splitting it to find the bad point(s)", len(batch))
            stopped_at, bad = self._bisect(batch)
            if stopped_at is not None:
                # Neither stored nor refused (outage, 401/409, 413): the whole batch is handled as
                # that answer says; points already stored are simply sent again (the gateway upserts).
                self._handle(stopped_at, source, batch, meta)
                return
            self.rejected_points += len(bad)
            self._complete(source, batch, meta, delivered=True, refused=bad)
            with self._cond:
                self._failures = 0
                self._outage = False
                self._next_attempt = 0.0
            return
        if status == 400:
            self._log_refused(batch[0], response)
            self.rejected_points += 1
            self._complete(source, batch, meta, delivered=False)
            return
        if status in (401, 409):
            reason = "unauthorized (401)" if status == 401 else "job is finished (409)"
            if status == 409:
                self.stop_requested.set()
            LOG.error("metrics reporting stopped: gateway answered %s", reason)
            with self._cond:
                self.disabled_reason = reason
                self._inflight = False
                self._cond.notify_all()
            return
        if status == 413 and len(batch) > 1:
            with self._cond:
                self.max_batch = max(1, len(batch) // 2)
                self._inflight = False
            LOG.warning("metrics batch too large (413); sending %d points per batch", self.max_batch)
            return
        if status == 413:
            LOG.error("single metric point refused as too large (413); dropped")
            self.rejected_points += 1
            self._complete(source, batch, meta, delivered=False)
            return
        self._retry_later(response)

    def _bisect(self, batch: List[Dict[str, Any]]) -> Tuple[Optional[_Response], List[Dict[str, Any]]]:
        """Send the halves of a refused batch, recursively, in order; single points answered 400 are
        the bad ones. Returns (the first answer that is neither 2xx nor 400, else None; bad points)."""
        bad: List[Dict[str, Any]] = []
        half = len(batch) // 2
        stack = [batch[half:], batch[:half]]
        while stack:
            part = stack.pop()
            payload = json.dumps({"metrics": part}, allow_nan=False, separators=(",", ":")).encode()
            response = _post_json(self.url, self._token, payload, self.timeout)
            with self._cond:
                self._last_request = time.monotonic()
            if response.status is not None and 200 <= response.status < 300:
                self._note_stop(response.body)
                continue
            if response.status != 400:
                return response, bad
            if len(part) == 1:
                self._log_refused(part[0], response)
                bad.append(part[0])
                continue
            half = len(part) // 2
            stack.extend([part[half:], part[:half]])
        return None, bad

    def _log_refused(self, point: Dict[str, Any], response: _Response) -> None:
        LOG.error(
            "metric point at step %s refused as malformed (400), dropped: %s",
            point.get("step"),
            response.body[:500].decode("utf-8", "replace"),
        )

    def _retry_later(self, response: _Response) -> None:
        status = response.status
        with self._cond:
            self._failures += 1
            delay = backoff_delay(self._failures, self.backoff_base, self.backoff_max, self._rng)
            if status in (429, 503):
                hinted = parse_retry_after(response.header("Retry-After"))
                if hinted is not None:
                    delay = min(hinted, self.retry_after_max)
            self._next_attempt = time.monotonic() + delay
            self._outage = True
            self._inflight = False
            self._cond.notify_all()
        self._spool_memory()
        what = f"HTTP {status}" if status is not None else (response.error or "no answer")
        self._warn_once(
            f"retry-{status}",
            "metrics gateway unavailable (%s); retrying in %.1fs, points kept in the spool",
            what,
            delay,
        )

    def _complete(
        self,
        source: str,
        batch: List[Dict[str, Any]],
        meta: Any,
        delivered: bool,
        refused: Sequence[Dict[str, Any]] = (),
    ) -> None:
        drained = False
        with self._cond:
            if source == "spool":
                self._spool_offset = meta
                self._spool_count = max(0, self._spool_count - len(batch))
                drained = self._spool_count == 0
            elif source == "mem":
                last_seq = meta
                while self._mem and self._mem[0][0] <= last_seq:
                    self._mem.popleft()
            stored = [point for point in batch if not any(point is bad for bad in refused)]
            if delivered and stored:
                if source != "heartbeat":
                    self.delivered_points += len(stored)
                self._last_point = dict(stored[-1])
            if not drained:
                self._inflight = False
                self._cond.notify_all()
        if drained:
            self._truncate_spool()  # outside the lock; only this thread touches the file
            with self._cond:
                self._inflight = False
                self._cond.notify_all()

    def _note_stop(self, body: bytes) -> None:
        try:
            answer = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self._warn_once("garbage", "gateway answered 2xx with a non-JSON body; treated as stored")
            return
        if isinstance(answer, dict) and answer.get("stop") is True and not self.stop_requested.is_set():
            LOG.warning("gateway asked the trainer to stop (stop: true)")
            self.stop_requested.set()

    # -- spool file (only the sender thread touches it, never under self._cond) ----------------

    def _load_existing_spool(self) -> None:
        path = self._spool_path
        if not path or not os.path.exists(path):
            return
        try:
            with open(path, "rb") as handle:
                count = sum(1 for line in handle if line.strip())
            self._spool_count = count
            if count:
                LOG.info("found %d unsent metric point(s) from an earlier run; sending them first", count)
        except OSError as exc:
            LOG.warning("cannot read the metrics spool %s: %s", path, exc)

    def _spool_memory(self) -> None:
        """Move the queued points to the spool file. The queue is swapped out under the lock and
        written (and fsynced) outside it, so that report() on the training thread never waits on the
        disk; on a write error the points go back to the front of the queue."""
        with self._cond:
            if not self._mem or not self._spool_path or self._spool_broken:
                return
            entries = list(self._mem)
            self._mem.clear()
            self._spooling = entries
        lines = b"".join(
            json.dumps(point, allow_nan=False, separators=(",", ":")).encode() + b"\n" for _, point, _ in entries
        )
        error: Optional[OSError] = None
        try:
            os.makedirs(os.path.dirname(self._spool_path), exist_ok=True)
            with open(self._spool_path, "ab") as handle:
                handle.write(lines)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            error = exc
        with self._cond:
            self._spooling = []
            if error is None:
                self._spool_count += len(entries)
            else:
                self._spool_broken = True
                self._mem.extendleft(reversed(entries))  # older than anything queued meanwhile
                overflow = len(self._mem) - self.max_memory_points
                while overflow > 0:
                    self._mem.popleft()
                    self.dropped_points += 1
                    overflow -= 1
            self._cond.notify_all()
        if error is not None:
            LOG.error("metrics spool %s is not writable (%s); keeping points in memory", self._spool_path, error)

    def _read_spool(self, limit: int) -> Tuple[List[Dict[str, Any]], int]:
        batch: List[Dict[str, Any]] = []
        assert self._spool_path
        with open(self._spool_path, "rb") as handle:
            handle.seek(self._spool_offset)
            while len(batch) < limit:
                line = handle.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                try:
                    point = sanitize_point(json.loads(line.decode("utf-8")))
                except (ValueError, UnicodeDecodeError):
                    point = None  # a line cut short by a crash mid-write
                if point is None:
                    with self._cond:
                        self._spool_count = max(0, self._spool_count - 1)
                    continue
                batch.append(point)
            offset = handle.tell()
        if not batch:
            with self._cond:
                self._spool_count = 0
            self._truncate_spool()
        return batch, offset

    def _truncate_spool(self) -> None:
        self._spool_offset = 0
        if self._spool_path and os.path.exists(self._spool_path):
            try:
                os.remove(self._spool_path)
            except OSError as exc:
                LOG.warning("cannot remove the drained metrics spool: %s", exc)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._warned:
            LOG.debug(message, *args)
            return
        self._warned.add(key)
        LOG.warning(message, *args)


# ---------------------------------------------------------------------------------------------
# GPU statistics
# ---------------------------------------------------------------------------------------------


def gpu_memory_gb() -> Tuple[Optional[float], Optional[float]]:
    """(allocated, reserved) GiB summed over visible CUDA devices; (None, None) without CUDA."""
    try:
        import torch  # noqa: PLC0415 - optional, only on the pod

        if not torch.cuda.is_available():
            return None, None
        count = torch.cuda.device_count()
        allocated = sum(torch.cuda.memory_allocated(i) for i in range(count))
        reserved = sum(torch.cuda.memory_reserved(i) for i in range(count))
        return round(allocated / _GIB, 3), round(reserved / _GIB, 3)
    except Exception:  # noqa: BLE001
        return None, None


def gpu_utilization_percent(
    runner: Callable[..., Any] = subprocess.run, which: Callable[[str], Optional[str]] = shutil.which
) -> Optional[float]:
    """Mean utilization over GPUs from nvidia-smi, None when it is missing or says nothing usable."""
    try:
        binary = which("nvidia-smi")
        if not binary:
            return None
        result = runner(
            [binary, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode != 0:
            return None
        values = [finite_or_none(line.strip()) for line in result.stdout.splitlines() if line.strip()]
        numbers = [v for v in values if v is not None]
        return round(sum(numbers) / len(numbers), 1) if numbers else None
    except Exception:  # noqa: BLE001
        return None


class UtilizationSampler:
    """GPU utilization, sampled on a background thread every `every` seconds and cached, so that
    the training thread only reads a number and never waits on nvidia-smi (up to 5 s).

    The thread starts on the first `latest()` and is a daemon; `stop()` ends it."""

    def __init__(self, sample: Callable[[], Optional[float]] = gpu_utilization_percent, every: float = 5.0) -> None:
        self._sample = sample
        self._every = max(0.05, float(every))
        self._value: Optional[float] = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sampled = threading.Event()  # set after the first sample (tests wait on it)
        self._thread: Optional[threading.Thread] = None

    def latest(self) -> Optional[float]:
        """The last sampled value (None until the first sample); never blocks on the sampler."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="traingate-gpu-util", daemon=True)
                self._thread.start()
            return self._value

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = self._sample()
            except Exception:  # noqa: BLE001 - a broken sampler reports "unknown"
                value = None
            with self._lock:
                self._value = value
            self.sampled.set()
            self._stop.wait(self._every)


# ---------------------------------------------------------------------------------------------
# transformers callback
# ---------------------------------------------------------------------------------------------


class ReportingCallbackMixin:
    """The logic of the Trainer callback; `create_callback` mixes it with TrainerCallback.

    Kept apart from transformers so that it imports and runs without it (the tests drive it
    with plain objects shaped like TrainingArguments / TrainerState).
    """

    def __init__(
        self,
        reporter: MetricsReporter,
        clock: Callable[[], float] = time.monotonic,
        gpu_memory: Callable[[], Tuple[Optional[float], Optional[float]]] = gpu_memory_gb,
        gpu_utilization: Callable[[], Optional[float]] = gpu_utilization_percent,
        utilization_every: float = 5.0,
    ) -> None:
        self.reporter = reporter
        self._clock = clock
        self._gpu_memory = gpu_memory
        self.utilization = UtilizationSampler(gpu_utilization, utilization_every)
        self._started: Optional[float] = None
        self._start_step = 0
        self._last_rate_mark: Optional[Tuple[float, int]] = None
        self._last_point: Optional[Dict[str, Any]] = None

    def __getattr__(self, name: str) -> Any:
        # Without transformers there is no TrainerCallback to supply the other on_* events.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        try:
            self._started = self._clock()
            self._start_step = int(getattr(state, "global_step", 0) or 0)
            self._last_rate_mark = (self._started, self._start_step)
            self.utilization.latest()  # starts sampling, so the first point already has a value
        except Exception:  # noqa: BLE001
            LOG.exception("metrics callback: on_train_begin failed")
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Any:
        try:
            self._on_log(args, state, logs or {})
        except Exception:  # noqa: BLE001
            LOG.exception("metrics callback: on_log failed")
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        try:
            step = int(getattr(state, "global_step", 0) or 0)
            if self._last_point is None or self._last_point.get("step") != step:
                self._emit(self._base_point(args, state, step))
            self.reporter.flush(timeout=10.0)
        except Exception:  # noqa: BLE001
            LOG.exception("metrics callback: on_train_end failed")
        finally:
            self.utilization.stop()
        return control

    # -- internals -----------------------------------------------------------------------------

    def _on_log(self, args: Any, state: Any, logs: Mapping[str, Any]) -> None:
        if "train_runtime" in logs:
            return  # the end-of-training summary; on_train_end reports the final step
        step = int(getattr(state, "global_step", 0) or 0)
        point = self._base_point(args, state, step)
        for key in ("loss", "eval_loss", "learning_rate", "grad_norm"):
            if key in logs:
                point[key] = logs[key]
        if "loss" in logs:
            point["samples_per_second"] = self._samples_per_second(args, step)
        if self._last_point is not None and self._last_point.get("step") == step:
            # Evaluation logs separately at the same step as training; the gateway replaces a
            # point by step, so resend the earlier values with the new ones rather than erase them.
            merged = dict(self._last_point)
            merged.update({k: v for k, v in point.items() if v is not None})
            point = merged
        self._emit(point)

    def _base_point(self, args: Any, state: Any, step: int) -> Dict[str, Any]:
        now = self._clock()
        if self._started is None:
            self._started = now
            self._start_step = step
        elapsed = now - self._started
        max_steps = getattr(state, "max_steps", None)
        progress, remaining = progress_and_eta(step, max_steps, elapsed, self._start_step)
        allocated, reserved = self._gpu_memory()
        return {
            "step": step,
            "epoch": getattr(state, "epoch", None),
            "elapsed_seconds": elapsed,
            "remaining_seconds": remaining,
            "progress": progress,
            "gpu_memory_allocated_gb": allocated,
            "gpu_memory_reserved_gb": reserved,
            "gpu_utilization_percent": self.utilization.latest(),
        }

    def _samples_per_second(self, args: Any, step: int) -> Optional[float]:
        now = self._clock()
        mark = self._last_rate_mark
        self._last_rate_mark = (now, step)
        if mark is None or step <= mark[1] or now <= mark[0]:
            return None
        per_step = (
            int(getattr(args, "per_device_train_batch_size", 1) or 1)
            * int(getattr(args, "gradient_accumulation_steps", 1) or 1)
            * int(getattr(args, "world_size", 1) or 1)
        )
        return round((step - mark[1]) * per_step / (now - mark[0]), 3)

    def _emit(self, point: Dict[str, Any]) -> None:
        self._last_point = dict(point)
        self.reporter.report(point)


def _trainer_callback_base() -> type:
    try:
        from transformers import TrainerCallback  # noqa: PLC0415 - only present on the pod

        return TrainerCallback
    except Exception:  # noqa: BLE001
        return object


def create_callback(reporter: MetricsReporter, **kwargs: Any) -> ReportingCallbackMixin:
    """A transformers TrainerCallback (plain object when transformers is absent) feeding `reporter`."""
    base = _trainer_callback_base()
    bases: Tuple[type, ...] = (ReportingCallbackMixin,) if base is object else (ReportingCallbackMixin, base)
    cls = type("TrainGateMetricsCallback", bases, {})
    return cls(reporter, **kwargs)

