import type { Logger } from "pino";
import { In, type DataSource } from "typeorm";
import { ACTIVE_DEPLOYMENT_STATUSES, StopReason } from "../deployments/deployment.enums";
import { Deployment } from "../deployments/deployment.entity";
import type { DeploymentService } from "../deployments/deployment.service";
import type { EventBus } from "../pubsub/event-bus";
import { budgetAlertTopics as topics, type BudgetAlertEvent } from "./budget-alert-stream";
import type { RunpodClient } from "../runpod/runpod-client";
import { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import { BudgetAlertRecord } from "./budget-alert.entity";
import { budgetDecision, STOPPED_THRESHOLD, STOPPING_THRESHOLD } from "./budget";
import { BudgetAction } from "./cost.types";
import { runningMicrosPerHour } from "./pricing";

export interface WatchdogReport {
  checked: number;
  alerts: number;
  stopsRequested: number;
  terminated: number;
}

/**
 * The gateway's layer of the budget (the trainer's BUDGET_DEADLINE and RunPod's terminateAfter are the other
 * two). Run by one replica at a time, every WATCHDOG_INTERVAL_MS: each running deployment's cost is refreshed
 * from RunPod, thresholds raise alerts (once each: the alert's primary key decides, whichever replica or restart
 * gets there first), the trainer is asked to stop at 95 %, and the pod is terminated at 100 % or past its maximum
 * running time. Everything it knows is in the database, so a restart or a failover loses no stop.
 */
export class BudgetWatchdog {
  constructor(
    private readonly db: DataSource,
    private readonly runpod: RunpodClient,
    private readonly secrets: ProviderSecretService,
    private readonly deployments: DeploymentService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  async tick(): Promise<WatchdogReport> {
    const report: WatchdogReport = { checked: 0, alerts: 0, stopsRequested: 0, terminated: 0 };
    const active = await this.db.getRepository(Deployment).find({
      where: { status: In([...ACTIVE_DEPLOYMENT_STATUSES]) },
    });
    const byUser = new Map<string, Deployment[]>();
    for (const d of active) if (d.podId) byUser.set(d.userId, [...(byUser.get(d.userId) ?? []), d]);
    for (const [userId, deployments] of byUser) {
      try {
        await this.watchUser(userId, deployments, report);
      } catch (error) {
        this.logger.warn(
          { userId, err: error instanceof Error ? error.message : String(error) },
          "budget check failed for a user",
        );
      }
    }
    return report;
  }

  private async watchUser(userId: string, deployments: Deployment[], report: WatchdogReport): Promise<void> {
    const apiKey = await this.secrets.reveal(userId, Provider.RUNPOD);
    if (!apiKey) {
      this.logger.warn({ userId }, "cannot watch budgets: the user's RunPod key is gone");
      return;
    }
    const pods = new Map((await this.runpod.listPods(apiKey)).map((pod) => [pod.id, pod]));
    for (const stale of deployments) {
      // Fresh cost first: the decision is only as good as the accrual it reads.
      await this.deployments.observe(
        stale.id,
        pods.get(stale.podId!) ?? (await this.runpod.getPod(apiKey, stale.podId!)),
      );
      const deployment = await this.db.getRepository(Deployment).findOneBy({ id: stale.id });
      if (!deployment) continue;
      const raised = new Set(
        (await this.db.getRepository(BudgetAlertRecord).findBy({ deploymentId: deployment.id })).map(
          (a) => a.thresholdPercent,
        ),
      );
      if (!ACTIVE_DEPLOYMENT_STATUSES.includes(deployment.status)) {
        // It finished meanwhile (RunPod's terminateAfter, or the trainer stopping at the flag). The replica that
        // saw it finish announced it (`budgetStopped`); this covers one that went down before it could.
        if (!raised.has(STOPPED_THRESHOLD) && (await this.budgetStopped(deployment))) report.alerts += 1;
        continue;
      }
      report.checked += 1;
      const decision = budgetDecision({
        actualMicros: deployment.actualCostMicros,
        budgetMicros: deployment.budgetLimitMicros,
        perHourMicros: runningMicrosPerHour(deployment.costPerHourMicros ?? 0, {
          volumeGb: deployment.config.volumeSizeGb,
          containerGb: deployment.config.containerDiskGb,
        }),
        intervalSeconds: this.intervalMs / 1000,
        runningSeconds: deployment.uptimeSeconds,
        maxDurationMinutes: deployment.maxDurationMinutes,
        raised,
        stopRequested: deployment.stopRequestedAt !== null,
      });
      for (const threshold of decision.notify) {
        if (await this.alert(deployment, threshold, BudgetAction.NOTIFIED)) report.alerts += 1;
      }
      if (decision.requestStop) {
        await this.deployments.requestStop(deployment.id, decision.requestStop);
        report.stopsRequested += 1;
        if (
          decision.requestStop === StopReason.BUDGET_EXCEEDED &&
          (await this.alert(deployment, STOPPING_THRESHOLD, BudgetAction.STOPPING))
        ) {
          report.alerts += 1;
        }
      }
      if (decision.terminate) {
        await this.runpod.terminatePod(apiKey, deployment.podId!);
        await this.deployments.podTerminated(deployment.id, `watchdog: ${decision.terminate}`);
        // The STOPPED alert follows from the deployment finishing (`budgetStopped`), as for every other path.
        await this.deployments.signal(deployment.id, { type: "STOP", reason: decision.terminate });
        report.terminated += 1;
      }
    }
  }

  /**
   * The STOPPED alert of a deployment that finished because of its budget, whichever path finished it (this
   * watchdog at 100 %, the trainer exiting at the stop flag, RunPod's terminateAfter seen by the status sync).
   * Once per deployment, like every alert. True when this call raised it.
   */
  async budgetStopped(deployment: Deployment): Promise<boolean> {
    if (deployment.stopReason !== StopReason.BUDGET_EXCEEDED) return false;
    return this.alert(deployment, STOPPED_THRESHOLD, BudgetAction.STOPPED);
  }

  /** Records a threshold crossing; only the first to record it announces it. */
  private async alert(deployment: Deployment, threshold: number, action: BudgetAction): Promise<boolean> {
    const inserted = await this.db
      .createQueryBuilder()
      .insert()
      .into(BudgetAlertRecord)
      .values({
        deploymentId: deployment.id,
        thresholdPercent: threshold,
        action,
        actualCostMicros: deployment.actualCostMicros,
      })
      .orIgnore()
      .returning(["created_at"])
      .execute();
    const row = inserted.raw as { created_at: Date }[];
    if (row.length === 0) return false;
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
      at: new Date(row[0].created_at).toISOString(),
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
