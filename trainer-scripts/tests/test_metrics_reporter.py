"""metrics_reporter.py against a real local HTTP server standing in for the gateway."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import types
import unittest
from unittest import mock

import metrics_reporter as mr
from tests.support import GARBAGE, RESET, LocalServer, Reply, ScriptedGateway, closed_port_url

JOB = "job-1"
TOKEN = "job-token"


def strict_loads(body: bytes):
    """json.loads that refuses NaN/Infinity, as a JSON parser in the gateway does."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(body.decode(), parse_constant=refuse)


class ReporterTestCase(unittest.TestCase):
    def setUp(self) -> None:
        logging.getLogger("traingate.reporter").setLevel(logging.CRITICAL)
        self.tmp = tempfile.mkdtemp(prefix="tg-reporter-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.gateway = ScriptedGateway(TOKEN)
        self.server = LocalServer(self.gateway)
        self.addCleanup(self.server.close)
        self.reporters = []
        self.addCleanup(self._close_reporters)

    def _close_reporters(self) -> None:
        for reporter in self.reporters:
            reporter.close(timeout=0.2)

    def reporter(self, url: str = "", **kwargs) -> mr.MetricsReporter:
        options = dict(
            spool_dir=os.path.join(self.tmp, "spool"),
            batch_size=5,
            flush_interval=30.0,
            backoff_base=0.02,
            backoff_max=0.2,
            heartbeat_interval=0,
            timeout=2.0,
            rng=random.Random(7),
        )
        options.update(kwargs)
        reporter = mr.MetricsReporter(f"{url or self.server.url}/api/training/jobs", JOB, TOKEN, **options)
        self.reporters.append(reporter)
        return reporter

    def metric_posts(self):
        return self.server.matching("POST", f"/api/training/jobs/{JOB}/metrics")

    def accepted_steps(self):
        return [point["step"] for point in self.gateway.accepted]

    def spool_file(self) -> str:
        return os.path.join(self.tmp, "spool", f"metrics-{JOB}.jsonl")

    def spooled_steps(self):
        if not os.path.exists(self.spool_file()):
            return []
        with open(self.spool_file()) as handle:
            return [json.loads(line)["step"] for line in handle if line.strip()]

    def wait_until(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()


class BatchingTest(ReporterTestCase):
    def test_sends_full_batches_then_the_rest_on_flush_each_point_exactly_once(self) -> None:
        reporter = self.reporter(batch_size=5, max_batch=5)
        for step in range(12):
            reporter.report({"step": step, "loss": 1.0 / (step + 1), "learning_rate": 2e-4})
        self.assertTrue(reporter.flush(5))

        posts = self.metric_posts()
        self.assertEqual([len(p.json()["metrics"]) for p in posts], [5, 5, 2])
        self.assertEqual(self.accepted_steps(), list(range(12)))
        for post in posts:
            self.assertEqual(post.headers["authorization"], f"Bearer {TOKEN}")
            self.assertEqual(post.headers["content-type"], "application/json")
            for point in post.json()["metrics"]:
                self.assertLessEqual(set(point), set(mr.POINT_KEYS))
        self.assertEqual(reporter.delivered_points, 12)
        self.assertFalse(os.path.exists(self.spool_file()))

    def test_a_partial_batch_goes_out_after_the_flush_interval_without_flush(self) -> None:
        reporter = self.reporter(batch_size=100, flush_interval=0.2)
        for step in range(3):
            reporter.report({"step": step, "loss": 2.0})
        self.assertTrue(self.server.wait_for(lambda reqs: len(reqs) >= 1, timeout=5))
        self.assertEqual(self.accepted_steps(), [0, 1, 2])

    def test_points_are_cleaned_to_the_api_shape_and_never_carry_nan(self) -> None:
        reporter = self.reporter()
        reporter.report(
            {
                "step": 3.0,
                "loss": float("nan"),
                "learning_rate": float("inf"),
                "grad_norm": True,
                "elapsed_seconds": 12.6,
                "progress": 30,
                "unknown_key": "dropped",
            }
        )
        reporter.report({"step": -1, "loss": 1.0})  # would make the whole batch a 400
        reporter.report({"loss": 1.0})
        self.assertTrue(reporter.flush(5))
        body = strict_loads(self.metric_posts()[0].body)
        # Every API key, always: what the trainer does not know is null, never missing.
        expected = {key: None for key in mr.POINT_KEYS}
        expected.update({"step": 3, "loss": "NaN", "elapsed_seconds": 13, "progress": 30.0})
        self.assertEqual(body, {"metrics": [expected]})
        self.assertEqual(reporter.rejected_points, 2)

    def test_a_non_finite_loss_eval_loss_or_grad_norm_is_sent_as_the_contract_string(self) -> None:
        reporter = self.reporter()
        reporter.report({"step": 1, "loss": float("nan"), "eval_loss": float("inf"), "grad_norm": float("-inf")})
        reporter.report({"step": 2, "loss": 1.5, "eval_loss": "NaN", "grad_norm": "nonsense"})
        self.assertTrue(reporter.flush(5))
        # Valid JSON (the strict parser refuses bare NaN), the gateway's strings in place of the values.
        points = strict_loads(self.metric_posts()[0].body)["metrics"]
        self.assertEqual(
            [(p["loss"], p["eval_loss"], p["grad_norm"]) for p in points],
            [("NaN", "Infinity", "-Infinity"), (1.5, "NaN", None)],
        )

    def test_a_nan_loss_kept_in_the_spool_is_still_sent_as_nan_by_the_next_process(self) -> None:
        first = self.reporter(url=closed_port_url())
        first.report({"step": 7, "loss": float("nan")})
        self.assertFalse(first.close(timeout=0.3))
        self.assertEqual(self.spooled_steps(), [7])

        second = self.reporter()
        self.assertTrue(second.flush(5))
        point = strict_loads(self.metric_posts()[0].body)["metrics"][0]
        self.assertEqual((point["step"], point["loss"]), (7, "NaN"))

    def test_a_big_batch_answered_413_is_split_and_fully_delivered(self) -> None:
        self.gateway.script = [Reply(413, "")]
        reporter = self.reporter(batch_size=8)
        for step in range(8):
            reporter.report({"step": step})
        self.assertTrue(reporter.flush(5))
        self.assertEqual([len(p.json()["metrics"]) for p in self.metric_posts()], [8, 4, 4])
        self.assertEqual(self.accepted_steps(), list(range(8)))


class RetryTest(ReporterTestCase):
    def test_5xx_answers_are_retried_with_growing_backoff_until_delivered(self) -> None:
        self.gateway.script = [Reply(500, "boom"), Reply(502, "bad gateway"), Reply(500, "again")]
        reporter = self.reporter(backoff_base=0.05, backoff_max=1.0)
        for step in range(5):
            reporter.report({"step": step})
        self.assertTrue(reporter.flush(10))
        times = [p.at for p in self.metric_posts()]
        self.assertEqual(len(times), 4)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Equal jitter: attempt n waits at least half of base * 2^(n-1).
        self.assertGreaterEqual(gaps[0], 0.025)
        self.assertGreaterEqual(gaps[1], 0.05)
        self.assertGreaterEqual(gaps[2], 0.1)
        self.assertEqual(self.accepted_steps(), list(range(5)))

    def test_retry_after_on_429_is_honoured_even_when_backoff_is_shorter(self) -> None:
        self.gateway.script = [Reply(429, {"error": "slow down"}, {"Retry-After": "1"})]
        reporter = self.reporter(backoff_base=0.01)
        for step in range(5):
            reporter.report({"step": step})
        self.assertTrue(reporter.flush(10))
        first, second = self.metric_posts()[:2]
        self.assertGreaterEqual(second.at - first.at, 0.95)
        self.assertEqual(self.accepted_steps(), list(range(5)))

    def test_retry_after_on_503_is_honoured(self) -> None:
        self.gateway.script = [Reply(503, {"error": "database down"}, {"Retry-After": "1"})]
        reporter = self.reporter(backoff_base=0.01)
        reporter.report({"step": 1})
        self.assertTrue(reporter.flush(10))
        first, second = self.metric_posts()[:2]
        self.assertGreaterEqual(second.at - first.at, 0.95)

    def test_garbage_answers_never_raise_and_nothing_is_lost(self) -> None:
        self.gateway.script = [
            Reply(action=RESET),
            Reply(action=GARBAGE),
            Reply(500, "<html>oops</html>"),
            Reply(200, "not json at all"),  # stored, as the status says
        ]
        reporter = self.reporter(batch_size=3, max_batch=3)
        for step in range(6):
            reporter.report({"step": step, "loss": 0.5})
        self.assertTrue(reporter.flush(10))
        # Three failed attempts, then the 200 with a non-JSON body counts as stored (its batch is
        # not sent again), then the second batch.
        self.assertEqual(len(self.metric_posts()), 5)
        self.assertEqual(self.accepted_steps(), list(range(6)))
        self.assertEqual(reporter.delivered_points, 6)
        self.assertTrue(reporter._thread.is_alive())

    def test_a_400_batch_is_bisected_and_only_the_refused_points_are_dropped_and_logged(self) -> None:
        gateway = self.gateway

        def app(request):  # the gateway refuses any batch holding step 13 or 16
            steps = [point["step"] for point in request.json()["metrics"]]
            if {13, 16} & set(steps):
                return Reply(400, {"error": "metrics[0].loss must be a number"})
            return gateway(request)

        self.server.app = app
        reporter = self.reporter(batch_size=8, max_batch=8)
        with self.assertLogs("traingate.reporter", level="ERROR") as logs:
            for step in range(10, 20):
                reporter.report({"step": step})
            self.assertTrue(reporter.flush(5))
        self.assertEqual(sorted(self.accepted_steps()), [10, 11, 12, 14, 15, 17, 18, 19])
        self.assertEqual(reporter.rejected_points, 2)
        self.assertEqual(reporter.delivered_points, 8)
        refused = [line for line in logs.output if "refused as malformed (400)" in line]
        self.assertEqual(len(refused), 2)
        self.assertIn("step 13", refused[0])
        self.assertIn("step 16", refused[1])
        # 8 points: the whole, halves [10-13] [14-17], quarters, then singles only where needed.
        self.assertLessEqual(len(self.metric_posts()), 12)

    def test_a_single_point_answered_400_is_dropped_and_later_batches_still_go(self) -> None:
        self.gateway.script = [Reply(400, {"error": "metrics[0].step must be an integer"})]
        reporter = self.reporter(batch_size=1, max_batch=1)
        for step in range(3):
            reporter.report({"step": step})
        self.assertTrue(reporter.flush(5))
        self.assertEqual(self.accepted_steps(), [1, 2])
        self.assertEqual(reporter.rejected_points, 1)

    def test_an_outage_while_bisecting_keeps_the_whole_batch_for_a_retry(self) -> None:
        self.gateway.script = [Reply(400, {"error": "bad"}), Reply(503, "down")]
        reporter = self.reporter(batch_size=4, max_batch=4)
        for step in range(4):
            reporter.report({"step": step})
        self.assertTrue(reporter.flush(10))
        self.assertEqual(sorted(set(self.accepted_steps())), [0, 1, 2, 3])
        self.assertEqual(reporter.rejected_points, 0)


class OutageTest(ReporterTestCase):
    def test_outage_spools_to_disk_and_drains_in_order_when_the_gateway_returns(self) -> None:
        down = threading.Event()
        down.set()
        gateway = self.gateway

        def app(request):
            return Reply(action=RESET) if down.is_set() else gateway(request)

        self.server.app = app
        reporter = self.reporter(batch_size=4, max_batch=7)
        for step in range(10):
            reporter.report({"step": step, "loss": 1.0})
        self.assertTrue(self.wait_until(lambda: self.spooled_steps() == list(range(10))))
        for step in range(10, 20):
            reporter.report({"step": step, "loss": 1.0})
        self.assertTrue(self.wait_until(lambda: self.spooled_steps() == list(range(20))))
        self.assertFalse(reporter.flush(0.2))  # still down: not delivered, and no exception

        down.clear()
        for step in range(20, 23):
            reporter.report({"step": step, "loss": 1.0})
        self.assertTrue(reporter.flush(10))
        self.assertEqual(self.accepted_steps(), list(range(23)))
        self.assertFalse(os.path.exists(self.spool_file()))
        # Drained with at most max_batch points per request.
        self.assertLessEqual(max(len(r.json()["metrics"]) for r in self.metric_posts() if r.body), 7)

    def test_points_left_in_the_spool_are_sent_first_by_the_next_process(self) -> None:
        first = self.reporter(url=closed_port_url(), batch_size=2)
        for step in range(5):
            first.report({"step": step})
        self.assertFalse(first.close(timeout=0.3))
        self.assertEqual(self.spooled_steps(), list(range(5)))

        second = self.reporter()  # same job, same spool dir, gateway reachable again
        for step in range(5, 8):
            second.report({"step": step})
        self.assertTrue(second.flush(5))
        self.assertEqual(self.accepted_steps(), list(range(8)))
        self.assertFalse(os.path.exists(self.spool_file()))

    def test_gateway_unreachable_for_good_never_raises(self) -> None:
        reporter = self.reporter(url=closed_port_url())
        for step in range(3):
            reporter.report({"step": step})
        self.assertFalse(reporter.flush(0.3))
        self.assertFalse(reporter.close(0.3))
        reporter.report({"step": 4})  # after close: ignored, no exception
        self.assertEqual(self.spooled_steps(), [0, 1, 2])

    def test_unwritable_spool_keeps_points_in_memory_and_delivers_them_later(self) -> None:
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w") as handle:
            handle.write("not a directory")
        down = threading.Event()
        down.set()
        gateway = self.gateway
        self.server.app = lambda request: Reply(503, "down") if down.is_set() else gateway(request)
        reporter = self.reporter(spool_dir=os.path.join(blocker, "spool"), batch_size=2)
        for step in range(6):
            reporter.report({"step": step})
        self.assertTrue(self.server.wait_for(lambda reqs: len(reqs) >= 2))
        self.assertFalse(reporter.flush(0.2))
        down.clear()
        self.assertTrue(reporter.flush(10))
        self.assertEqual(self.accepted_steps(), list(range(6)))

    def test_report_never_waits_for_the_spool_write_and_fsync(self) -> None:
        in_fsync, release = threading.Event(), threading.Event()
        returned = []
        real_fsync = os.fsync

        def slow_fsync(fd):
            in_fsync.set()
            release.wait(10)
            returned.append(True)
            return real_fsync(fd)

        reporter = self.reporter(url=closed_port_url(), batch_size=1)
        with mock.patch.object(mr.os, "fsync", slow_fsync):
            reporter.report({"step": 0})
            self.assertTrue(in_fsync.wait(10), "the outage never spooled")
            # The sender thread is inside fsync now. report() must not wait for it (it would, and
            # only return once fsync gave up, if the write happened under report()'s lock).
            for step in range(1, 4):
                reporter.report({"step": step})
            self.assertEqual(returned, [])
            self.assertEqual(reporter.pending, 4)  # the points being written still count
            release.set()
            self.assertTrue(self.wait_until(lambda: self.spooled_steps() == [0, 1, 2, 3]))

    def test_memory_stays_bounded_when_the_spool_is_unwritable(self) -> None:
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w") as handle:
            handle.write("x")
        reporter = self.reporter(
            url=closed_port_url(), spool_dir=os.path.join(blocker, "spool"), max_memory_points=5, autostart=False
        )
        for step in range(8):
            reporter.report({"step": step})
        self.assertEqual(reporter.pending, 5)
        self.assertEqual(reporter.dropped_points, 3)


class StopAndRefusalTest(ReporterTestCase):
    def test_stop_true_in_an_answer_sets_stop_requested(self) -> None:
        self.gateway.default = lambda: Reply(200, {"status": "ok", "accepted": 1, "stop": True})
        reporter = self.reporter()
        self.assertFalse(reporter.stop_requested.is_set())
        reporter.report({"step": 1})
        self.assertTrue(reporter.flush(5))
        self.assertTrue(reporter.stop_requested.is_set())

    def test_409_job_finished_stops_sending_and_asks_training_to_stop(self) -> None:
        self.gateway.script = [Reply(409, {"error": "job is finished"})]
        reporter = self.reporter(batch_size=1)
        reporter.report({"step": 1})
        self.assertTrue(self.wait_until(lambda: reporter.disabled_reason is not None))
        for step in range(2, 6):
            reporter.report({"step": step})
        self.assertFalse(reporter.flush(0.3))
        self.assertEqual(len(self.metric_posts()), 1)
        self.assertTrue(reporter.stop_requested.is_set())

    def test_401_stops_sending_without_stopping_training(self) -> None:
        self.gateway.token = "another-token"
        reporter = self.reporter(batch_size=1)
        reporter.report({"step": 1})
        self.assertTrue(self.wait_until(lambda: reporter.disabled_reason is not None))
        reporter.report({"step": 2})
        self.assertFalse(reporter.flush(0.3))
        self.assertEqual(len(self.metric_posts()), 1)
        self.assertFalse(reporter.stop_requested.is_set())
        self.assertIn("401", reporter.disabled_reason)

    def test_heartbeat_resends_the_last_point_when_idle_and_sees_a_later_stop(self) -> None:
        reporter = self.reporter(heartbeat_interval=0.2)
        reporter.report({"step": 9, "loss": 0.1})
        self.assertTrue(reporter.flush(5))
        self.gateway.default = lambda: Reply(200, {"status": "ok", "accepted": 1, "stop": True})
        self.assertTrue(self.wait_until(reporter.stop_requested.is_set, timeout=5))
        self.assertEqual({p["step"] for p in self.gateway.accepted}, {9})

    def test_missing_environment_gives_a_silent_no_op_reporter(self) -> None:
        reporter = mr.MetricsReporter.from_env({})
        reporter.report({"step": 1})
        self.assertFalse(reporter.flush(0.1))
        self.assertFalse(reporter.close(0.1))
        self.assertIsNotNone(reporter.disabled_reason)

    def test_from_env_uses_the_workspace_spool_and_the_job_url(self) -> None:
        env = {"METRICS_API_URL": f"{self.server.url}/api/training/jobs/", "JOB_ID": JOB, "JOB_TOKEN": TOKEN,
               "TRAINGATE_WORKSPACE": self.tmp}
        reporter = mr.MetricsReporter.from_env(env, heartbeat_interval=0)
        self.reporters.append(reporter)
        reporter.report({"step": 0})
        self.assertTrue(reporter.flush(5))
        self.assertEqual(reporter.url, f"{self.server.url}/api/training/jobs/{JOB}/metrics")
        self.assertEqual(reporter._spool_path, os.path.join(self.tmp, ".traingate-spool", f"metrics-{JOB}.jsonl"))


class PureHelpersTest(unittest.TestCase):
    def test_progress_and_eta(self) -> None:
        cases = [
            # step, max_steps, elapsed, start_step -> progress, remaining
            (25, 100, 50.0, 0, 25.0, 150.0),
            (100, 100, 200.0, 0, 100.0, 0.0),
            (0, 100, 5.0, 0, 0.0, None),
            (60, 100, 20.0, 50, 60.0, 80.0),  # resumed at 50: rate over the 10 steps done here
            (10, None, 5.0, 0, None, None),
            (10, 0, 5.0, 0, None, None),
        ]
        for step, max_steps, elapsed, start, progress, remaining in cases:
            with self.subTest(step=step, max_steps=max_steps, start=start):
                self.assertEqual(mr.progress_and_eta(step, max_steps, elapsed, start), (progress, remaining))

    def test_retry_after_parsing(self) -> None:
        self.assertEqual(mr.parse_retry_after("7"), 7.0)
        self.assertEqual(mr.parse_retry_after(" 2.5 "), 2.5)
        self.assertIsNone(mr.parse_retry_after(None))
        self.assertIsNone(mr.parse_retry_after("soon"))
        self.assertAlmostEqual(mr.parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0), 10.0)
        self.assertEqual(mr.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0), 0.0)

    def test_backoff_grows_exponentially_within_jitter_and_cap(self) -> None:
        rng = random.Random(1)
        for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
            delay = mr.backoff_delay(attempt, 1.0, 30.0, rng)
            self.assertGreaterEqual(delay, ceiling / 2)
            self.assertLessEqual(delay, ceiling)

    def test_gpu_utilization_from_nvidia_smi(self) -> None:
        def runner(output, code=0):
            return lambda *a, **k: types.SimpleNamespace(returncode=code, stdout=output)

        found = lambda name: "/usr/bin/nvidia-smi"  # noqa: E731
        self.assertEqual(mr.gpu_utilization_percent(runner("97\n83\n"), found), 90.0)
        self.assertIsNone(mr.gpu_utilization_percent(runner("[N/A]\n"), found))
        self.assertIsNone(mr.gpu_utilization_percent(runner("", 9), found))
        self.assertIsNone(mr.gpu_utilization_percent(runner("50"), lambda name: None))

        def broken(*a, **k):
            raise subprocess.TimeoutExpired("nvidia-smi", 5)

        self.assertIsNone(mr.gpu_utilization_percent(broken, found))

    def test_gpu_memory_is_unknown_without_torch_or_cuda(self) -> None:
        self.assertEqual(mr.gpu_memory_gb(), (None, None))


class FakeReporter:
    def __init__(self) -> None:
        self.points = []
        self.flushed = 0

    def report(self, point) -> None:
        self.points.append(dict(point))

    def flush(self, timeout: float = 0) -> bool:
        self.flushed += 1
        return True


class CallbackTest(unittest.TestCase):
    def setUp(self) -> None:
        self.now = [1000.0]
        self.reporter = FakeReporter()
        self.callback = mr.create_callback(
            self.reporter,
            clock=lambda: self.now[0],
            gpu_memory=lambda: (10.5, 12.0),
            gpu_utilization=lambda: 97.0,
        )
        self.addCleanup(self.callback.utilization.stop)
        self.args = types.SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=2, world_size=1)
        self.state = types.SimpleNamespace(global_step=0, max_steps=100, epoch=0.0)
        self.control = types.SimpleNamespace(should_save=False, should_training_stop=False)

    def test_training_logs_become_api_points_with_progress_eta_and_gpu_stats(self) -> None:
        self.callback.on_train_begin(self.args, self.state, self.control)
        self.assertTrue(self.callback.utilization.sampled.wait(5))
        self.now[0] += 100.0
        self.state.global_step, self.state.epoch = 25, 0.25
        self.callback.on_log(self.args, self.state, self.control, logs={"loss": 2.5, "learning_rate": 2e-4, "grad_norm": 1.1, "epoch": 0.25})
        (point,) = self.reporter.points
        self.assertEqual(point["step"], 25)
        self.assertEqual(point["loss"], 2.5)
        self.assertEqual(point["progress"], 25.0)
        self.assertEqual(point["remaining_seconds"], 300.0)
        self.assertEqual(point["elapsed_seconds"], 100.0)
        self.assertEqual(point["samples_per_second"], 2.0)  # 25 steps * 4 * 2 samples / 100 s
        self.assertEqual((point["gpu_memory_allocated_gb"], point["gpu_memory_reserved_gb"]), (10.5, 12.0))
        self.assertEqual(point["gpu_utilization_percent"], 97.0)
        self.assertLessEqual(set(point), set(mr.POINT_KEYS))

    def test_gpu_utilization_is_sampled_off_the_training_thread_and_on_log_only_reads_the_cache(self) -> None:
        threads = []
        gate = threading.Event()

        def sampler():
            threads.append(threading.current_thread())
            gate.wait(10)  # as slow as nvidia-smi may be
            return 55.0

        callback = mr.create_callback(self.reporter, clock=lambda: self.now[0], gpu_memory=lambda: (None, None),
                                      gpu_utilization=sampler, utilization_every=0.05)
        self.addCleanup(callback.utilization.stop)
        self.addCleanup(gate.set)
        callback.on_train_begin(self.args, self.state, self.control)
        for step in (1, 2, 3):
            self.state.global_step = step
            callback.on_log(self.args, self.state, self.control, logs={"loss": 1.0})
        # on_log returned while the sampler was still blocked: the value is unknown, not waited for.
        self.assertEqual([p["gpu_utilization_percent"] for p in self.reporter.points], [None, None, None])
        self.assertTrue(threads)
        self.assertNotIn(threading.current_thread(), threads)
        gate.set()
        self.assertTrue(callback.utilization.sampled.wait(5))
        self.state.global_step = 4
        callback.on_log(self.args, self.state, self.control, logs={"loss": 1.0})
        self.assertEqual(self.reporter.points[-1]["gpu_utilization_percent"], 55.0)
        self.assertEqual({t.name for t in threads}, {"traingate-gpu-util"})

    def test_an_eval_log_at_the_same_step_keeps_the_training_values(self) -> None:
        self.callback.on_train_begin(self.args, self.state, self.control)
        self.state.global_step = 50
        self.now[0] += 10
        self.callback.on_log(self.args, self.state, self.control, logs={"loss": 1.5, "learning_rate": 1e-4})
        self.callback.on_log(self.args, self.state, self.control, logs={"eval_loss": 1.7, "eval_runtime": 3.0})
        first, second = self.reporter.points
        self.assertEqual((second["step"], second["loss"], second["eval_loss"], second["learning_rate"]), (50, 1.5, 1.7, 1e-4))
        self.assertNotIn("eval_loss", first)

    def test_the_end_summary_is_not_a_point_but_the_final_step_is_reported(self) -> None:
        self.callback.on_train_begin(self.args, self.state, self.control)
        self.state.global_step = 100
        self.now[0] += 10
        self.callback.on_log(self.args, self.state, self.control, logs={"train_runtime": 10.0, "train_loss": 1.2})
        self.assertEqual(self.reporter.points, [])
        self.callback.on_train_end(self.args, self.state, self.control)
        self.assertEqual(self.reporter.points[-1]["step"], 100)
        self.assertEqual(self.reporter.points[-1]["progress"], 100.0)
        self.assertEqual(self.reporter.flushed, 1)

    def test_callback_never_raises_into_training(self) -> None:
        def broken():
            raise RuntimeError("nvml exploded")

        callback = mr.create_callback(self.reporter, gpu_memory=broken)
        self.assertIs(callback.on_log(self.args, self.state, self.control, logs={"loss": 1.0}), self.control)
        self.assertIs(callback.on_train_end(self.args, self.state, self.control), self.control)
        self.assertIsNone(callback.on_epoch_end(self.args, self.state, self.control))  # any other event


if __name__ == "__main__":
    unittest.main()
