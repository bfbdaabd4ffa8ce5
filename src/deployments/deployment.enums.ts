import { registerEnumType } from "type-graphql";

export enum DeploymentStatus {
  QUEUED = "QUEUED",
  CREATING = "CREATING",
  STARTING = "STARTING",
  RUNNING = "RUNNING",
  COMPLETED = "COMPLETED",
  FAILED = "FAILED",
  STOPPED = "STOPPED",
}

export enum StopReason {
  USER = "USER",
  BUDGET_EXCEEDED = "BUDGET_EXCEEDED",
  MAX_DURATION = "MAX_DURATION",
  COMPLETED = "COMPLETED",
  FAILED = "FAILED",
  ORPHANED = "ORPHANED",
}

export enum CompletionAction {
  TERMINATE = "TERMINATE",
  STOP = "STOP",
}

/**
 * Deployments that may still hold a pod and cost money. A QUEUED one holds none yet, but it is about to: it
 * counts against the active-deployment quota and its account is looked at on every supervisor run.
 */
export const ACTIVE_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = [
  DeploymentStatus.QUEUED,
  DeploymentStatus.CREATING,
  DeploymentStatus.STARTING,
  DeploymentStatus.RUNNING,
];

/** Deployments that are over: they never change status again. Every status is active or finished. */
export const FINISHED_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = [
  DeploymentStatus.COMPLETED,
  DeploymentStatus.FAILED,
  DeploymentStatus.STOPPED,
];

export const isActive = (status: DeploymentStatus): boolean => ACTIVE_DEPLOYMENT_STATUSES.includes(status);
export const isFinished = (status: DeploymentStatus): boolean =>
  FINISHED_DEPLOYMENT_STATUSES.includes(status);

registerEnumType(DeploymentStatus, {
  description: "where a deployment is in its lifecycle",
  valuesConfig: {
    QUEUED: {
      description:
        "waiting for capacity (waitForCapacityMinutes): no pod and no cost yet; retried until queuedUntil",
    },
    CREATING: { description: "asking the provider for a pod" },
    STARTING: { description: "the pod exists and is booting" },
    RUNNING: { description: "the pod is running the training" },
    COMPLETED: { description: "training finished and the result was delivered" },
    FAILED: { description: "the pod or the training failed; see errorMessage" },
    STOPPED: { description: "stopped before completing; see stopReason" },
  },
  name: "DeploymentStatus",
});
registerEnumType(StopReason, {
  description: "why a deployment stopped",
  valuesConfig: {
    USER: { description: "the caller stopped it (stopDeployment)" },
    BUDGET_EXCEEDED: { description: "its cost reached budgetLimitUsd" },
    MAX_DURATION: { description: "it ran for maxDurationMinutes" },
    COMPLETED: { description: "training finished" },
    FAILED: { description: "the pod or the training failed" },
    ORPHANED: {
      description:
        "the gateway found its pod unowned (creation interrupted, or still up after the run) and terminated it",
    },
  },
  name: "StopReason",
});
registerEnumType(CompletionAction, {
  valuesConfig: {
    TERMINATE: { description: "delete the pod and its disk" },
    STOP: { description: "stop the pod and keep its disk (still billed)" },
  },
  name: "CompletionAction",
  description: "STOP frees the GPU and keeps the pod's disk for download (storage is still billed)",
});
