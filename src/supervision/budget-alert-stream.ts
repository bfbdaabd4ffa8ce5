import { BoundedChannel, mapIterator } from "../pubsub/channel";
import type { Topic } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import { BudgetAction } from "../costs/budget";
import type { BudgetAlert } from "./budget-alert.types";
import { microsToUsd } from "../costs/money";

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

/** The topics budget alerts are published on. */
export const budgetAlertTopics = {
  /** One user's budget alerts. */
  userBudgetAlert: (userId: string): Topic<BudgetAlertEvent> => `user/${userId}/budget-alert`,
} as const;

/** The `budgetAlerts` subscription. */
export class BudgetAlertStream {
  constructor(
    private readonly streams: LiveStreams,
    /** The caller's deployment as it is now (NOT_FOUND when it is not the caller's). */
    private readonly deployment: (userId: string, deploymentId: string) => Promise<BudgetAlert["deployment"]>,
  ) {}

  /** The caller's budget alerts, as they are raised. */
  async subscribe(userId: string): Promise<AsyncIterableIterator<BudgetAlert>> {
    const alerts = new BoundedChannel<BudgetAlertEvent>(this.streams.buffer);
    await this.streams.feed(userId, alerts, budgetAlertTopics.userBudgetAlert(userId), (event) => {
      if (event.userId === userId) alerts.push(event);
    });
    return mapIterator(alerts, async (event) => ({
      deployment: await this.deployment(userId, event.deploymentId),
      thresholdPercent: event.thresholdPercent,
      actualCostUsd: microsToUsd(event.actualCostMicros),
      budgetLimitUsd: microsToUsd(event.budgetLimitMicros),
      action: BudgetAction[event.action],
      at: new Date(event.at),
    }));
  }
}
