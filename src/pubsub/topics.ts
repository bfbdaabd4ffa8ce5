import type { Topic } from "./event-bus";
import type { MetricEvent } from "../metrics/metric-event";

/** A deployment's row changed (status, cost, stop flag). Subscribers reload or map what they need. */
export interface DeploymentUpdatedEvent {
  deploymentId: string;
  userId: string;
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
  /** Every stored metric point of one job, in the order it was committed. */
  jobMetric: (jobId: string): Topic<MetricEvent> => `job/${jobId}/metric`,
  /** One deployment changed. */
  deploymentUpdated: (deploymentId: string): Topic<DeploymentUpdatedEvent> =>
    `deployment/${deploymentId}/updated`,
  /** Any deployment of one user changed. */
  userDeploymentUpdated: (userId: string): Topic<DeploymentUpdatedEvent> =>
    `user/${userId}/deployment-updated`,
  /** One user's budget alerts. */
  userBudgetAlert: (userId: string): Topic<BudgetAlertEvent> => `user/${userId}/budget-alert`,
} as const;
