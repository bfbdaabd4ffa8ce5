import { registerEnumType } from "type-graphql";

export enum DeploymentStatus {
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

/** Deployments that may still hold a pod and cost money. */
export const ACTIVE_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = [
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

registerEnumType(DeploymentStatus, { name: "DeploymentStatus" });
registerEnumType(StopReason, { name: "StopReason" });
registerEnumType(CompletionAction, {
  name: "CompletionAction",
  description: "STOP frees the GPU and keeps the pod's disk for download (storage is still billed)",
});
