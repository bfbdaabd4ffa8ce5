import type { BudgetAction } from "../costs/budget";
import { BoundedChannel, mapIterator } from "../pubsub/channel";
import type { Topic } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import type { TrainingAlertKind } from "./training-alert.enums";
import type { TrainingAlert } from "./training-alert.types";

/** A training-health alert was raised (once per kind and deployment). */
export interface TrainingAlertEvent {
  deploymentId: string;
  userId: string;
  kind: TrainingAlertKind;
  step: number | null;
  message: string;
  action: BudgetAction | null;
  at: string;
}

/** The topics training alerts are published on. */
export const trainingAlertTopics = {
  /** One user's training alerts. */
  userTrainingAlert: (userId: string): Topic<TrainingAlertEvent> => `user/${userId}/training-alert`,
} as const;

/** The `trainingAlerts` subscription. */
export class TrainingAlertStream {
  constructor(
    private readonly streams: LiveStreams,
    /** The caller's deployment as it is now (NOT_FOUND when it is not the caller's). */
    private readonly deployment: (
      userId: string,
      deploymentId: string,
    ) => Promise<TrainingAlert["deployment"]>,
  ) {}

  /** The caller's training alerts, of one deployment or of all, as they are raised. */
  async subscribe(
    userId: string,
    deploymentId: string | null | undefined,
  ): Promise<AsyncIterableIterator<TrainingAlert>> {
    // A foreign or unknown deployment answers NOT_FOUND, as every lookup does.
    if (deploymentId) await this.deployment(userId, deploymentId);
    const alerts = new BoundedChannel<TrainingAlertEvent>(this.streams.buffer);
    await this.streams.feed(userId, alerts, trainingAlertTopics.userTrainingAlert(userId), (event) => {
      if (event.userId !== userId) return;
      if (deploymentId && event.deploymentId !== deploymentId) return;
      alerts.push(event);
    });
    return mapIterator(alerts, async (event) => ({
      deployment: await this.deployment(userId, event.deploymentId),
      kind: event.kind,
      step: event.step,
      message: event.message,
      action: event.action,
      at: new Date(event.at),
    }));
  }
}
