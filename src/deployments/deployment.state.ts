import { isJobFinished, JobStatus } from "../jobs/training-job.enums";
import { DeploymentStatus, isFinished, StopReason } from "./deployment.enums";

/**
 * Why a trainer stopped by itself, before the gateway asked it to: its budget deadline (`BUDGET_DEADLINE`), or a
 * max-duration deadline of its own. Sent as `reason` with a `stopped` report.
 */
export type TrainerStopReason = "budget_deadline" | "max_duration";

/** The stop reason recorded for each of a trainer's own stops. */
const TRAINER_STOP_REASONS: Readonly<Record<TrainerStopReason, StopReason>> = {
  budget_deadline: StopReason.BUDGET_EXCEEDED,
  max_duration: StopReason.MAX_DURATION,
};

/** What can happen to a deployment. */
export type DeploymentSignal =
  | { type: "POD_CREATED" }
  /** No GPU had capacity (or RunPod failed transiently) and the caller will wait: no pod, retried later. */
  | { type: "QUEUE" }
  | { type: "CREATE_FAILED" }
  | { type: "POD_OBSERVED"; state: "STARTING" | "RUNNING" | "STOPPED" | "GONE" }
  | {
      type: "JOB_REPORTED";
      status: "running" | "completed" | "failed" | "stopped";
      /** With `stopped`: the trainer stopped by itself, for this reason. */
      reason?: TrainerStopReason;
    }
  | { type: "STOP"; reason: StopReason }
  /** The pod's container did not come up within the start-up deadline. */
  | { type: "START_TIMED_OUT" };

export interface DeploymentState {
  status: DeploymentStatus;
  jobStatus: JobStatus;
  /** A stop asked for but not yet carried out (budget at 95 %, say). */
  stopRequestedReason: StopReason | null;
}

export interface Transition {
  status: DeploymentStatus;
  stopReason: StopReason | null;
  jobStatus: JobStatus;
  /** Set when the transition ends the deployment for a reason worth telling the user. */
  errorMessage?: string;
}

/**
 * The deployment state machine, pure: the next state for a signal, or null when the signal changes nothing.
 * A finished deployment never changes again; a finished job keeps its status.
 */
export function nextState(current: DeploymentState, signal: DeploymentSignal): Transition | null {
  if (isFinished(current.status)) return null;
  const job = (status: JobStatus) => (isJobFinished(current.jobStatus) ? current.jobStatus : status);
  const stopped = (reason: StopReason): Transition => ({
    status: DeploymentStatus.STOPPED,
    stopReason: reason,
    jobStatus: job(JobStatus.CANCELLED),
  });
  const failed = (errorMessage?: string): Transition => ({
    status: DeploymentStatus.FAILED,
    stopReason: StopReason.FAILED,
    jobStatus: job(JobStatus.FAILED),
    ...(errorMessage ? { errorMessage } : {}),
  });
  const completed: Transition = {
    status: DeploymentStatus.COMPLETED,
    stopReason: StopReason.COMPLETED,
    jobStatus: job(JobStatus.COMPLETED),
  };
  // A queued deployment's retries create its pod as CREATING does, without going back through CREATING.
  const creating = current.status === DeploymentStatus.CREATING || current.status === DeploymentStatus.QUEUED;
  const same = (status: DeploymentStatus): Transition | null =>
    status === current.status ? null : { status, stopReason: null, jobStatus: current.jobStatus };

  switch (signal.type) {
    case "STOP":
      return stopped(signal.reason);
    case "QUEUE":
      return current.status === DeploymentStatus.CREATING ? same(DeploymentStatus.QUEUED) : null;
    case "CREATE_FAILED":
      return creating ? failed() : null;
    case "START_TIMED_OUT":
      return current.status === DeploymentStatus.STARTING && current.jobStatus === JobStatus.PENDING
        ? failed()
        : null;
    case "POD_CREATED":
      return creating ? same(DeploymentStatus.STARTING) : null;
    case "POD_OBSERVED":
      if (creating) return null;
      switch (signal.state) {
        case "STARTING":
          return null;
        case "RUNNING":
          return same(DeploymentStatus.RUNNING);
        case "STOPPED":
          if (current.jobStatus === JobStatus.COMPLETED) return completed;
          // Stopped from outside TrainGate (the RunPod console, stopAfter): the user's doing, as far as we know.
          return stopped(current.stopRequestedReason ?? StopReason.USER);
        case "GONE":
          if (current.jobStatus === JobStatus.COMPLETED) return completed;
          if (current.stopRequestedReason) return stopped(current.stopRequestedReason);
          return failed("the pod is gone upstream before the job reported an outcome");
      }
      return null;
    case "JOB_REPORTED":
      switch (signal.status) {
        case "running":
          return { status: DeploymentStatus.RUNNING, stopReason: null, jobStatus: JobStatus.RUNNING };
        case "completed":
          return completed;
        case "failed":
          return failed();
        case "stopped":
          // A stop the gateway asked for keeps its reason; else the trainer's own, if it said one.
          return stopped(
            current.stopRequestedReason ??
              (signal.reason === undefined ? StopReason.USER : TRAINER_STOP_REASONS[signal.reason]),
          );
      }
  }
}

/** The first retry of a queued deployment comes this long after it queued; each later one twice as long… */
export const QUEUE_FIRST_RETRY_MS = 30_000;
/** …up to this. */
export const QUEUE_MAX_RETRY_MS = 5 * 60_000;

/**
 * How long a queued deployment waits before its `attempt`-th retry (0 for the first): 30 s doubling to 5 min,
 * with ±20 % jitter (`random` in [0, 1)) so that deployments queued together do not retry together. Pure.
 */
export function queueRetryDelayMs(attempt: number, random: number): number {
  const base = Math.min(QUEUE_FIRST_RETRY_MS * 2 ** Math.min(attempt, 20), QUEUE_MAX_RETRY_MS);
  return Math.round(base * (0.8 + 0.4 * random));
}
