import type { Topic } from "./event-bus";
import type { MetricEvent } from "../metrics/metric-event";

/** Points of one job, committed together, in step order. */
export interface MetricBatchEvent {
  jobId: string;
  points: MetricEvent[];
}

/** A deployment's row changed (status, cost, stop flag). Subscribers reload or map what they need. */
export interface DeploymentUpdatedEvent {
  deploymentId: string;
  userId: string;
}

/** Something the pod callbacks answer from (status, stop flag) changed for this job, on any replica. */
export interface JobAccessChangedEvent {
  jobId: string;
}

/** A budget threshold was crossed or a budget stop happened. */
export interface BudgetAlertEvent {
  deploymentId: string;
  userId: string;
  thresholdPercent: number;
  actualCostMicros: number;
  budgetLimitMicros: number;
  action: "NOTIFIED" | "STOPPING" | "STOPPED";
  at: string;
}

/** The one map of every topic the gateway publishes on. */
export const topics = {
  /** Every stored metric point of one job, in the order it was committed (one event per write). */
  jobMetric: (jobId: string): Topic<MetricBatchEvent> => `job/${jobId}/metric`,
  /** One deployment changed. */
  deploymentUpdated: (deploymentId: string): Topic<DeploymentUpdatedEvent> =>
    `deployment/${deploymentId}/updated`,
  /** Any deployment of one user changed. */
  userDeploymentUpdated: (userId: string): Topic<DeploymentUpdatedEvent> =>
    `user/${userId}/deployment-updated`,
  /** Any job whose callback answers changed (every replica listens, to drop what it cached). */
  jobAccessChanged: "job-access/changed" as Topic<JobAccessChangedEvent>,
  /** One user's budget alerts. */
  userBudgetAlert: (userId: string): Topic<BudgetAlertEvent> => `user/${userId}/budget-alert`,
} as const;
