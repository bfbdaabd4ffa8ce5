import { JobStatus } from "../jobs/training-job.enums";
import { DeploymentStatus as D, StopReason as R } from "./deployment.enums";
import {
  nextState,
  queueRetryDelayMs,
  type DeploymentSignal,
  type DeploymentState,
} from "./deployment.state";

const state = (
  status: D,
  jobStatus = JobStatus.PENDING,
  stopRequestedReason: R | null = null,
): DeploymentState => ({
  status,
  jobStatus,
  stopRequestedReason,
});

describe("deployment state machine", () => {
  it.each<[string, DeploymentState, DeploymentSignal, [D, R | null, JobStatus] | null]>([
    ["pod created", state(D.CREATING), { type: "POD_CREATED" }, [D.STARTING, null, JobStatus.PENDING]],
    ["creation failed", state(D.CREATING), { type: "CREATE_FAILED" }, [D.FAILED, R.FAILED, JobStatus.FAILED]],
    [
      "stopped while creating",
      state(D.CREATING),
      { type: "STOP", reason: R.USER },
      [D.STOPPED, R.USER, JobStatus.CANCELLED],
    ],
    [
      "container up",
      state(D.STARTING),
      { type: "POD_OBSERVED", state: "RUNNING" },
      [D.RUNNING, null, JobStatus.PENDING],
    ],
    ["still pulling the image", state(D.STARTING), { type: "POD_OBSERVED", state: "STARTING" }, null],
    [
      "a restart does not go back to STARTING",
      state(D.RUNNING),
      { type: "POD_OBSERVED", state: "STARTING" },
      null,
    ],
    [
      "trainer started",
      state(D.STARTING),
      { type: "JOB_REPORTED", status: "running" },
      [D.RUNNING, null, JobStatus.RUNNING],
    ],
    [
      "trainer finished",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "JOB_REPORTED", status: "completed" },
      [D.COMPLETED, R.COMPLETED, JobStatus.COMPLETED],
    ],
    [
      "trainer failed",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "JOB_REPORTED", status: "failed" },
      [D.FAILED, R.FAILED, JobStatus.FAILED],
    ],
    [
      "trainer stopped on a budget request",
      state(D.RUNNING, JobStatus.RUNNING, R.BUDGET_EXCEEDED),
      { type: "JOB_REPORTED", status: "stopped" },
      [D.STOPPED, R.BUDGET_EXCEEDED, JobStatus.CANCELLED],
    ],
    [
      "trainer stopped at its own budget deadline",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "JOB_REPORTED", status: "stopped", reason: "budget_deadline" },
      [D.STOPPED, R.BUDGET_EXCEEDED, JobStatus.CANCELLED],
    ],
    [
      "trainer stopped at its own max-duration deadline",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "JOB_REPORTED", status: "stopped", reason: "max_duration" },
      [D.STOPPED, R.MAX_DURATION, JobStatus.CANCELLED],
    ],
    [
      "trainer stopped without a reason of its own: the user's doing, as far as we know",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "JOB_REPORTED", status: "stopped" },
      [D.STOPPED, R.USER, JobStatus.CANCELLED],
    ],
    [
      "a stop the gateway asked for keeps its reason, whatever the trainer says",
      state(D.RUNNING, JobStatus.RUNNING, R.USER),
      { type: "JOB_REPORTED", status: "stopped", reason: "budget_deadline" },
      [D.STOPPED, R.USER, JobStatus.CANCELLED],
    ],
    [
      "a max-duration stop the gateway asked for keeps its reason",
      state(D.RUNNING, JobStatus.RUNNING, R.MAX_DURATION),
      { type: "JOB_REPORTED", status: "stopped", reason: "budget_deadline" },
      [D.STOPPED, R.MAX_DURATION, JobStatus.CANCELLED],
    ],
    [
      "a trainer's deadline stop after the user's stop changes nothing",
      state(D.STOPPED, JobStatus.CANCELLED),
      { type: "JOB_REPORTED", status: "stopped", reason: "budget_deadline" },
      null,
    ],
    [
      "user stop",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "STOP", reason: R.USER },
      [D.STOPPED, R.USER, JobStatus.CANCELLED],
    ],
    [
      "budget stop",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "STOP", reason: R.BUDGET_EXCEEDED },
      [D.STOPPED, R.BUDGET_EXCEEDED, JobStatus.CANCELLED],
    ],
    [
      "pod stopped from outside",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "POD_OBSERVED", state: "STOPPED" },
      [D.STOPPED, R.USER, JobStatus.CANCELLED],
    ],
    [
      "pod gone after a completion report was lost",
      state(D.RUNNING, JobStatus.COMPLETED),
      { type: "POD_OBSERVED", state: "GONE" },
      [D.COMPLETED, R.COMPLETED, JobStatus.COMPLETED],
    ],
    [
      "pod gone while a stop was pending",
      state(D.RUNNING, JobStatus.RUNNING, R.MAX_DURATION),
      { type: "POD_OBSERVED", state: "GONE" },
      [D.STOPPED, R.MAX_DURATION, JobStatus.CANCELLED],
    ],
    [
      "pod vanished",
      state(D.RUNNING, JobStatus.RUNNING),
      { type: "POD_OBSERVED", state: "GONE" },
      [D.FAILED, R.FAILED, JobStatus.FAILED],
    ],
    [
      "a finished deployment stays finished",
      state(D.COMPLETED, JobStatus.COMPLETED),
      { type: "STOP", reason: R.USER },
      null,
    ],
    [
      "a failure after a stop changes nothing",
      state(D.STOPPED, JobStatus.CANCELLED),
      { type: "JOB_REPORTED", status: "failed" },
      null,
    ],
    [
      "the container never came up",
      state(D.STARTING),
      { type: "START_TIMED_OUT" },
      [D.FAILED, R.FAILED, JobStatus.FAILED],
    ],
    [
      "a start deadline after the container came up changes nothing",
      state(D.RUNNING),
      { type: "START_TIMED_OUT" },
      null,
    ],
    [
      "a start deadline after the trainer reported changes nothing",
      state(D.STARTING, JobStatus.RUNNING),
      { type: "START_TIMED_OUT" },
      null,
    ],
    [
      "no capacity, and the caller waits",
      state(D.CREATING),
      { type: "QUEUE" },
      [D.QUEUED, null, JobStatus.PENDING],
    ],
    ["queued twice changes nothing", state(D.QUEUED), { type: "QUEUE" }, null],
    [
      "a queued deployment's retry made its pod",
      state(D.QUEUED),
      { type: "POD_CREATED" },
      [D.STARTING, null, JobStatus.PENDING],
    ],
    [
      "the wait for capacity ran out",
      state(D.QUEUED),
      { type: "CREATE_FAILED" },
      [D.FAILED, R.FAILED, JobStatus.FAILED],
    ],
    [
      "stopped while queued",
      state(D.QUEUED),
      { type: "STOP", reason: R.USER },
      [D.STOPPED, R.USER, JobStatus.CANCELLED],
    ],
    [
      "a queued deployment has no pod to observe",
      state(D.QUEUED),
      { type: "POD_OBSERVED", state: "GONE" },
      null,
    ],
    ["a start deadline does not apply while queued", state(D.QUEUED), { type: "START_TIMED_OUT" }, null],
    ["a running deployment never queues", state(D.RUNNING), { type: "QUEUE" }, null],
    [
      "observations before the pod exists are ignored",
      state(D.CREATING),
      { type: "POD_OBSERVED", state: "GONE" },
      null,
    ],
  ])("%s", (_name, current, signal, expected) => {
    const next = nextState(current, signal);
    expect(next && [next.status, next.stopReason, next.jobStatus]).toEqual(expected);
  });

  it.each([
    [0, 0.5, 30_000],
    [1, 0.5, 60_000],
    [3, 0.5, 240_000],
    [4, 0.5, 300_000],
    [50, 0.5, 300_000],
    [0, 0, 24_000],
    [0, 0.999999, 36_000],
  ])("waits before queued retry %i (random %d) %i ms", (attempt, random, ms) => {
    expect(queueRetryDelayMs(attempt, random)).toBe(ms);
  });

  it("keeps a finished job's status when the deployment stops", () => {
    expect(
      nextState(state(D.RUNNING, JobStatus.COMPLETED), { type: "STOP", reason: R.USER })?.jobStatus,
    ).toBe(JobStatus.COMPLETED);
  });
});
