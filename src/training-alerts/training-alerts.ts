import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { BudgetAction } from "../costs/budget";
import { insertOnce } from "../db/insert-once";
import { DeploymentStatus, isActive, StopReason } from "../deployments/deployment.enums";
import { Deployment } from "../deployments/deployment.entity";
import type { DeploymentService } from "../deployments/deployment.service";
import type { HealthWatch } from "../metrics/callback-handler";
import type { JobAccess } from "../metrics/job-access";
import type { MetricPoint } from "../metrics/metric-payload";
import type { EventBus } from "../pubsub/event-bus";
import { deploymentRun, enqueueWebhookEvent } from "../webhooks/webhook-outbox";
import { WebhookEvent } from "../webhooks/webhook.enums";
import { gpuCatalogueEntry } from "../runpod/gpu-catalogue";
import {
  GPU_MEMORY_POINTS,
  gpuMemoryHigh,
  isOutOfMemory,
  lossSpike,
  SPIKE_FACTOR,
  SPIKE_WINDOW,
  stallDecision,
  type HealthPoint,
} from "./health-rules";
import { trainingAlertTopics as topics, type TrainingAlertEvent } from "./training-alert-stream";
import { TrainingAlertKind } from "./training-alert.enums";
import { TrainingAlertRecord } from "./training-alert.entity";

/**
 * Why a health action stops a run. StopReason is part of the public contract and has no health value; a run
 * whose loss went NaN or whose pod hung has failed, and FAILED ("the pod or the training failed") says so,
 * where USER would claim the caller pressed stop.
 */
const HEALTH_STOP_REASON = StopReason.FAILED;

/** A NaN stop the trainer did not carry out (it keeps posting, or hung) is finished by terminating after this. */
const HEALTH_STOP_GRACE_MS = 5 * 60_000;

/** The alert to raise: its kind, the step that raised it, a message for people, and what was done. */
interface Raise {
  kind: TrainingAlertKind;
  step: number | null;
  message: string;
  action: BudgetAction | null;
}

/** The deployment an alert is about: whose it is. */
type Alerted = Pick<Deployment, "id" | "userId">;

/** How long a replica judges a job's points against its own copy of the window before reading it again. */
const WINDOW_REFRESH_MS = 60_000;
/** Jobs whose window a replica keeps (20 points each); past it the oldest half is dropped. */
const MAX_WINDOWS = 50_000;

/**
 * A job's recent points (at most the spike window, in step order) and the alert kinds known to be raised for
 * its deployment, as this replica last read or saw them.
 */
class JobWindow {
  constructor(
    readonly loadedAt: number,
    private readonly raised: Set<TrainingAlertKind>,
    public points: HealthPoint[],
  ) {}

  /** True while the kind is still to be judged: not raised yet, as far as this replica knows. */
  unraised(kind: TrainingAlertKind): boolean {
    return !this.raised.has(kind);
  }

  /** A kind is being raised (here, or it already was elsewhere): it is not judged again. */
  mark(kind: TrainingAlertKind): void {
    this.raised.add(kind);
  }

  /** Points just stored join the window; a resent step replaces its earlier copy. */
  add(fresh: readonly HealthPoint[]): void {
    const byStep = new Map(this.points.map((point) => [point.step, point]));
    for (const { step, loss, gpuMemoryAllocatedGb, gpuMemoryReservedGb } of fresh)
      byStep.set(step, { step, loss, gpuMemoryAllocatedGb, gpuMemoryReservedGb });
    this.points = [...byStep.values()].sort((a, b) => a.step - b.step).slice(-SPIKE_WINDOW);
  }
}

/**
 * Training-health alerts, judged as the metric stream arrives (NaN, spike, GPU memory), as the trainer reports
 * a failure (OOM), and in the pod supervisor's pass (stall). Each kind is raised at most once per deployment,
 * whichever replica or restart gets there first (the alert's primary key decides), recorded in the deployment's
 * audit trail and announced to its owner. The deployment's health actions stop a NaN run and a stalled pod
 * through the normal stop: the stop flag the trainer hears (it saves a checkpoint and exits), and for a pod that
 * no longer listens, the terminate every stop ends with.
 */
export class TrainingAlerts implements HealthWatch {
  /** Each job's window, by job id, in the order they were read (the oldest first). */
  private readonly windows = new Map<string, JobWindow>();

  constructor(
    private readonly db: DataSource,
    private readonly deployments: DeploymentService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /**
   * Judges freshly stored points against the job's recent window. True when a health action asked the trainer to
   * stop. Runs on every metrics post, so a post normally costs no query: the window and the kinds already raised
   * are read from the database once a minute per job (and so follow what other replicas stored), and only a
   * raised alert writes.
   */
  async pointsStored(access: JobAccess, points: MetricPoint[]): Promise<boolean> {
    if (!isActive(access.deploymentStatus)) return false;
    const fresh = [...points].sort((a, b) => a.step - b.step);
    const window = await this.window(access, fresh[0].step);
    const deployment = { id: access.deploymentId, userId: access.userId };
    let stop = false;
    const nonFinite = fresh.find((point) => point.nonFinite);
    if (nonFinite && window.unraised(TrainingAlertKind.LOSS_NAN)) {
      window.mark(TrainingAlertKind.LOSS_NAN);
      stop = await this.lossNan(deployment, access.stopOnNaN, nonFinite.step);
    }
    const spike = window.unraised(TrainingAlertKind.LOSS_SPIKE) ? lossSpike(window.points, fresh) : null;
    if (spike) {
      window.mark(TrainingAlertKind.LOSS_SPIKE);
      await this.raise(deployment, {
        kind: TrainingAlertKind.LOSS_SPIKE,
        step: spike.step,
        message: `loss ${round(spike.loss)} at step ${spike.step} is over ${SPIKE_FACTOR}x the median ${round(spike.median)} of the losses before it`,
        action: BudgetAction.NOTIFIED,
      });
    }
    const capacityGb = gpuCatalogueEntry(access.gpuType).memoryGb * access.gpuCount;
    const memory = window.unraised(TrainingAlertKind.GPU_MEMORY_HIGH)
      ? gpuMemoryHigh([...window.points, ...fresh], capacityGb)
      : null;
    if (memory) {
      window.mark(TrainingAlertKind.GPU_MEMORY_HIGH);
      await this.raise(deployment, {
        kind: TrainingAlertKind.GPU_MEMORY_HIGH,
        step: memory.step,
        message: `GPU memory at ${round(memory.usedGb)} GB of ${capacityGb} GB for ${GPU_MEMORY_POINTS} points in a row (step ${memory.step}): a longer batch may run out`,
        action: BudgetAction.NOTIFIED,
      });
    }
    window.add(fresh);
    return stop;
  }

  /** A trainer reported a failure: an out-of-memory one raises OUT_OF_MEMORY (the run has ended by itself). */
  async trainerFailed(access: JobAccess, message: string | null): Promise<void> {
    if (!isOutOfMemory(message)) return;
    const deployment = await this.db.getRepository(Deployment).findOneBy({ id: access.deploymentId });
    if (!deployment) return;
    await this.raise(deployment, {
      kind: TrainingAlertKind.OUT_OF_MEMORY,
      step: null,
      message: `the trainer ran out of GPU memory: ${lastLine(message ?? "")}`,
      action: null,
    });
  }

  /**
   * The supervisor's pass over some of an account's deployments: a RUNNING one whose last metric (or its start,
   * before the first) is older than the alert threshold is STALLED; past its `stopAfterStallMinutes` it is
   * stopped; a health stop the trainer did not carry out within the grace period is finished. `now` is the
   * supervisor's clock.
   */
  async judgeStalls(apiKey: string, deploymentIds: readonly string[], now: Date): Promise<number> {
    // The last metric is the highest step's, found by the primary key: every tick, for every running deployment,
    // so never a scan of a job's points. (A run resumed from a checkpoint redoes lower steps for a while; its
    // highest step keeps its older time until the run passes it, and a redo longer than the alert threshold
    // would read as silence.)
    if (deploymentIds.length === 0) return 0;
    const rows = await this.db.query<
      {
        id: string;
        stop_after_stall_minutes: number;
        stop_requested_reason: StopReason | null;
        stop_requested_at: Date | null;
        last_seen: Date;
      }[]
    >(
      `SELECT d.id, d.stop_after_stall_minutes, d.stop_requested_reason, d.stop_requested_at,
              COALESCE(GREATEST(d.started_at,
                (SELECT m.recorded_at FROM training_metrics m WHERE m.job_id = d.job_id
                 ORDER BY m.step DESC LIMIT 1)), d.updated_at) AS last_seen
       FROM cloud_deployments d WHERE d.id = ANY($1::uuid[]) AND d.status = $2`,
      [deploymentIds, DeploymentStatus.RUNNING],
    );
    let stopped = 0;
    for (const row of rows) {
      const silentMs = now.getTime() - new Date(row.last_seen).getTime();
      const decision = stallDecision(silentMs, row.stop_after_stall_minutes);
      const overdue =
        row.stop_requested_reason === HEALTH_STOP_REASON &&
        row.stop_requested_at !== null &&
        now.getTime() - new Date(row.stop_requested_at).getTime() > HEALTH_STOP_GRACE_MS;
      if (decision === "none" && !overdue) continue;
      const deployment = await this.db.getRepository(Deployment).findOneBy({ id: row.id });
      if (!deployment) continue;
      const minutes = Math.floor(silentMs / 60_000);
      if (decision !== "none") {
        await this.raise(deployment, {
          kind: TrainingAlertKind.STALLED,
          step: null,
          message:
            `no metric for ${minutes} minutes while the pod is running` +
            (decision === "stop" ? `; stopped after ${row.stop_after_stall_minutes} (healthActions)` : ""),
          action: decision === "stop" ? BudgetAction.STOPPING : BudgetAction.NOTIFIED,
        });
      }
      if (decision === "stop" || overdue) {
        await this.stopNow(
          apiKey,
          deployment,
          decision === "stop"
            ? `no metric for ${minutes} minutes`
            : `the trainer did not stop within ${HEALTH_STOP_GRACE_MS / 60_000} minutes of being asked`,
        );
        stopped += 1;
      }
    }
    return stopped;
  }

  /** A NaN loss: raised once; with stopOnNaN the trainer is asked to stop. True when the stop was asked here. */
  private async lossNan(deployment: Alerted, stop: boolean, step: number): Promise<boolean> {
    const raised = await this.raise(deployment, {
      kind: TrainingAlertKind.LOSS_NAN,
      step,
      message:
        `the loss is NaN or infinite at step ${step}` +
        (stop ? "; the run is being stopped (healthActions.stopOnNaN)" : ""),
      action: stop ? BudgetAction.STOPPING : BudgetAction.NOTIFIED,
    });
    return raised && stop && (await this.deployments.requestStop(deployment.id, HEALTH_STOP_REASON));
  }

  /**
   * Stops a run whose trainer cannot hear the stop flag (hung, or ignoring it): the flag, then the pod's
   * terminate, as `stopDeployment` does.
   */
  private async stopNow(apiKey: string, deployment: Deployment, why: string): Promise<void> {
    await this.deployments.requestStop(deployment.id, HEALTH_STOP_REASON);
    await this.deployments.terminate(
      deployment.id,
      { type: "STOP", reason: HEALTH_STOP_REASON },
      {
        apiKey,
        by: "health",
        update: { errorMessage: `stopped by its health actions: ${why}` },
      },
    );
  }

  /** The job's window: this replica's copy, or read afresh when it is missing or a minute old. */
  private async window(access: JobAccess, step: number): Promise<JobWindow> {
    const now = Date.now();
    const cached = this.windows.get(access.jobId);
    if (cached && now - cached.loadedAt < WINDOW_REFRESH_MS) return cached;
    const [row] = await this.db.query<
      {
        raised: TrainingAlertKind[];
        history: {
          step: number;
          loss: number | null;
          gpu_memory_allocated_gb: number | null;
          gpu_memory_reserved_gb: number | null;
        }[];
      }[]
    >(
      `SELECT ARRAY(SELECT a.kind FROM training_alerts a WHERE a.deployment_id = $1) AS raised,
              (SELECT COALESCE(json_agg(h ORDER BY h.step), '[]'::json) FROM (
                 SELECT m.step, m.loss, m.gpu_memory_allocated_gb, m.gpu_memory_reserved_gb
                 FROM training_metrics m WHERE m.job_id = $2 AND m.step < $3
                 ORDER BY m.step DESC LIMIT $4) h) AS history`,
      [access.deploymentId, access.jobId, step, SPIKE_WINDOW],
    );
    const window = new JobWindow(
      now,
      new Set(row.raised),
      row.history.map((point) => ({
        step: point.step,
        loss: point.loss,
        gpuMemoryAllocatedGb: point.gpu_memory_allocated_gb,
        gpuMemoryReservedGb: point.gpu_memory_reserved_gb,
      })),
    );
    this.windows.delete(access.jobId);
    this.windows.set(access.jobId, window);
    if (this.windows.size > MAX_WINDOWS) {
      // The oldest half goes: a job still posting reads its window again.
      let drop = this.windows.size / 2;
      for (const key of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(key);
      }
    }
    return window;
  }

  /** Records an alert; only the first to record it announces it. True when this call raised it. */
  private async raise(deployment: Alerted, alert: Raise): Promise<boolean> {
    const at = await insertOnce(
      this.db,
      TrainingAlertRecord,
      { deploymentId: deployment.id, ...alert },
      // The alert and its webhook deliveries commit together.
      (tx) =>
        enqueueWebhookEvent(tx, deployment.userId, WebhookEvent.TRAINING_ALERT, async () => ({
          deployment: await deploymentRun(
            tx,
            await tx.findOneOrFail(Deployment, { where: { id: deployment.id } }),
          ),
          kind: alert.kind,
          step: alert.step,
          message: alert.message,
          action: alert.action,
        })),
    );
    if (!at) return false;
    await this.deployments.recordEvent(deployment.id, "training.alert", {
      kind: alert.kind,
      step: alert.step,
      action: alert.action,
    });
    await this.announce({
      deploymentId: deployment.id,
      userId: deployment.userId,
      ...alert,
      at: at.toISOString(),
    });
    return true;
  }

  /**
   * Where a raised alert reaches live clients, once per alert: the owner's `trainingAlerts` subscribers (its
   * webhooks' deliveries were enqueued with the alert's row).
   */
  private async announce(event: TrainingAlertEvent): Promise<void> {
    try {
      await this.bus.publish(topics.userTrainingAlert(event.userId), event);
    } catch (error) {
      this.logger.warn(
        { deploymentId: event.deploymentId, err: error instanceof Error ? error.message : String(error) },
        "could not publish a training alert",
      );
    }
  }
}

const round = (value: number) => Math.round(value * 1000) / 1000;

/** The last non-empty line of a failure message (the exception), cut to a readable length. */
function lastLine(message: string): string {
  const lines = message.split("\n").filter((line) => line.trim() !== "");
  const last = (lines[lines.length - 1] ?? "").trim();
  return last.length > 300 ? `${last.slice(0, 300)}…` : last;
}
