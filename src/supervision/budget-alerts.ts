import type { Logger } from "pino";
import { In, type DataSource } from "typeorm";
import { BudgetAction, STOPPED_THRESHOLD } from "../costs/budget";
import { insertOnce } from "../db/insert-once";
import { StopReason } from "../deployments/deployment.enums";
import type { Deployment } from "../deployments/deployment.entity";
import type { DeploymentService } from "../deployments/deployment.service";
import type { EventBus } from "../pubsub/event-bus";
import { budgetAlertTopics as topics, type BudgetAlertEvent } from "./budget-alert-stream";
import { BudgetAlertRecord } from "./budget-alert.entity";
import { deploymentRun, enqueueWebhookEvent } from "../webhooks/webhook-outbox";
import { WebhookEvent } from "../webhooks/webhook.enums";

/**
 * Budget alerts: each threshold of a deployment is raised at most once, whichever replica or restart gets there
 * first (the alert's primary key decides), recorded in the deployment's audit trail and announced to its owner.
 */
export class BudgetAlerts {
  constructor(
    private readonly db: DataSource,
    private readonly deployments: DeploymentService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** The thresholds already raised for a deployment. */
  async raised(deploymentId: string): Promise<Set<number>> {
    return (await this.raisedMany([deploymentId])).get(deploymentId) ?? new Set();
  }

  /** The thresholds already raised, for many deployments in one query (a deployment with none is absent). */
  async raisedMany(deploymentIds: readonly string[]): Promise<Map<string, Set<number>>> {
    const raised = new Map<string, Set<number>>();
    if (deploymentIds.length === 0) return raised;
    const rows = await this.db
      .getRepository(BudgetAlertRecord)
      .findBy({ deploymentId: In([...deploymentIds]) });
    for (const row of rows) {
      const set = raised.get(row.deploymentId) ?? new Set<number>();
      set.add(row.thresholdPercent);
      raised.set(row.deploymentId, set);
    }
    return raised;
  }

  /**
   * The STOPPED alert of a deployment that finished because of its budget, whichever path finished it (the
   * supervisor at 100 %, the trainer exiting at the stop flag, RunPod's terminateAfter seen by the status sync).
   * Once per deployment, like every alert. True when this call raised it.
   */
  async budgetStopped(deployment: Deployment): Promise<boolean> {
    if (deployment.stopReason !== StopReason.BUDGET_EXCEEDED) return false;
    return this.raise(deployment, STOPPED_THRESHOLD, BudgetAction.STOPPED);
  }

  /** Records a threshold crossing; only the first to record it announces it. True when this call raised it. */
  async raise(deployment: Deployment, threshold: number, action: BudgetAction): Promise<boolean> {
    const at = await insertOnce(
      this.db,
      BudgetAlertRecord,
      {
        deploymentId: deployment.id,
        thresholdPercent: threshold,
        action,
        actualCostMicros: deployment.actualCostMicros,
      },
      // The alert and its webhook deliveries commit together.
      (tx) =>
        enqueueWebhookEvent(tx, deployment.userId, WebhookEvent.BUDGET_ALERT, async () => ({
          deployment: await deploymentRun(tx, deployment),
          thresholdPercent: threshold,
          action,
        })),
    );
    if (!at) return false;
    await this.deployments.recordEvent(deployment.id, "budget.alert", {
      thresholdPercent: threshold,
      action,
      actualCostMicros: deployment.actualCostMicros,
    });
    const event: BudgetAlertEvent = {
      deploymentId: deployment.id,
      userId: deployment.userId,
      thresholdPercent: threshold,
      actualCostMicros: deployment.actualCostMicros,
      budgetLimitMicros: deployment.budgetLimitMicros,
      action,
      at: at.toISOString(),
    };
    try {
      await this.bus.publish(topics.userBudgetAlert(deployment.userId), event);
    } catch (error) {
      this.logger.warn(
        { deploymentId: deployment.id, err: error instanceof Error ? error.message : String(error) },
        "could not publish a budget alert",
      );
    }
    await this.deployments.publish(deployment);
    return true;
  }
}
