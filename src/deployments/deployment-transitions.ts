import type { Logger } from "pino";
import type { DataSource, EntityManager } from "typeorm";
import { usdToMicros } from "../costs/money";
import { accrue, accruedMicros, type ObservedState } from "../costs/pricing";
import { isJobFinished, JobStatus } from "../jobs/training-job.enums";
import { TrainingJob } from "../jobs/training-job.entity";
import type { EventBus } from "../pubsub/event-bus";
import { deploymentTopics as topics } from "./deployment-stream";
import { PodStatus, type PodInfo } from "../runpod/runpod-client";
import { DeploymentEvent } from "./deployment-event.entity";
import { DeploymentStatus, isFinished, type StopReason } from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import { nextState, type DeploymentSignal } from "./deployment.state";

/** Told once a deployment has finished (committed), with why it stopped; see `onFinished`. */
export type FinishedListener = (deployment: Deployment) => Promise<void>;

/**
 * Told inside the transaction that creates a deployment (`previous` null) or moves its status, with the rows as
 * they will commit: what must commit or roll back with the change (the webhook outbox).
 */
export type WrittenListener = (
  tx: EntityManager,
  deployment: Deployment,
  job: TrainingJob,
  previous: DeploymentStatus | null,
) => Promise<void>;

/** The queue's columns once a deployment leaves QUEUED: the sealed launch (it holds secrets) is not kept. */
const LEFT_THE_QUEUE: Partial<Deployment> = { queuedUntil: null, nextLaunchAt: null, launchSealed: null };

/** A deployment, row-locked for the transaction, and its job. */
export interface Locked {
  deployment: Deployment;
  job: TrainingJob;
}

/** One change to make to a locked deployment: what `transition` applies. */
export interface Change {
  /** The state machine's input; null for a change of columns only. */
  signal: DeploymentSignal | null;
  /** Columns to set on the deployment beside what the transition sets. */
  update?: Partial<Deployment>;
  /** Columns to set on the job beside what the transition sets. */
  jobUpdate?: Partial<TrainingJob>;
  /** Audit events recorded in the same transaction. */
  events?: { kind: string; detail: Record<string, unknown> }[];
  /** Announce the change even when the status stays (a cost or a column changed). */
  announce?: boolean;
}

/**
 * Every change of a deployment's state, in one place. Each is one transaction over the deployment (row-locked)
 * and its job: the state machine decides, the rows and the audit events are written together, and after the
 * commit the change is announced: to this replica's change listeners, on the bus, and, when the deployment
 * has just finished, to the finished listeners. Every finish of a deployment passes through `transition`.
 */
export class DeploymentTransitions {
  private readonly finishedListeners: FinishedListener[] = [];
  private readonly writtenListeners: WrittenListener[] = [];
  private readonly changeListeners: ((deployment: Pick<Deployment, "id" | "jobId">) => void)[] = [];
  private accrual: AccrualSql | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    readonly now: () => Date,
  ) {}

  /**
   * Applies the change `plan` makes of the locked rows (undefined: none). Answers the deployment as committed
   * when something was announced, else undefined.
   */
  async transition(
    deploymentId: string,
    plan: (locked: Locked, at: Date) => Change | undefined,
  ): Promise<Deployment | undefined> {
    const at = this.now();
    const changed = await this.db.transaction(async (tx) => {
      const locked = await this.lock(tx, deploymentId);
      if (!locked) return undefined;
      const change = plan(locked, at);
      if (!change) return undefined;
      const before = locked.deployment.status;
      const update: Partial<Deployment> = { ...change.update };
      let moved = false;
      if (change.signal)
        moved = await this.applySignal(tx, locked, change.signal, at, update, change.jobUpdate ?? {});
      else await this.updateJob(tx, locked.job, change.jobUpdate ?? {});
      if (Object.keys(update).length > 0) await tx.update(Deployment, { id: deploymentId }, update);
      for (const event of change.events ?? [])
        await this.insertEvent(tx, deploymentId, event.kind, event.detail);
      if (update.status !== undefined && update.status !== before)
        await this.written(tx, Object.assign(locked.deployment, update), locked.job, before);
      if (!moved && !change.announce) return undefined;
      const finished = update.status !== undefined && isFinished(update.status);
      return { deployment: Object.assign(locked.deployment, update), finished };
    });
    if (!changed) return undefined;
    await this.announce(changed.deployment, changed.finished);
    return changed.deployment;
  }

  /** Applies a signal (a trainer report, a stop); true when it changed something. */
  async signal(
    deploymentId: string,
    signal: DeploymentSignal,
    extra: Partial<Deployment> = {},
    jobExtra: Partial<TrainingJob> = {},
  ): Promise<boolean> {
    const changed = await this.transition(deploymentId, () => ({
      signal,
      update: extra,
      jobUpdate: jobExtra,
      announce: Object.keys(extra).length > 0,
    }));
    return changed !== undefined;
  }

  /**
   * Applies one look at the pod (null: RunPod no longer has it): cost accrues, the status follows. A pod
   * already known to be gone is not looked at again.
   */
  async observe(deploymentId: string, pod: PodInfo | null): Promise<void> {
    await this.transition(deploymentId, ({ deployment }, at) => {
      if (deployment.podTerminatedAt !== null) return undefined;
      const { state, update } = lookAt(deployment, pod, at);
      const gone = state === "GONE";
      if (gone) update.podTerminatedAt = at;
      return {
        signal: { type: "POD_OBSERVED", state },
        update,
        events: gone ? [{ kind: "pod.gone", detail: { podId: deployment.podId } }] : [],
        announce: gone || update.actualCostMicros !== deployment.actualCostMicros,
      };
    });
  }

  /**
   * Many looks at once, for the supervisor. A look that only brings cost up to date (the pod is still there and
   * neither the deployment's nor the job's status would move) is written for all of them by one statement: no
   * transaction, no lock held past it, the job row untouched (the metric ingest updates it). A row that changed
   * since it was read (status, last look or pod) is skipped and looked at again next time. Answers the
   * deployments written, as now stored, and the ones whose look moves a status: those go through `observe`.
   */
  async accrueMany(looks: readonly Look[]): Promise<{ accrued: Deployment[]; moving: Deployment[] }> {
    const at = this.now();
    const moving: Deployment[] = [];
    const candidates: { deployment: Deployment; update: Partial<Deployment> }[] = [];
    for (const { deployment, jobStatus, pod } of looks) {
      if (deployment.podTerminatedAt !== null) continue;
      const { state, update } = lookAt(deployment, pod, at);
      const next = nextState(
        { status: deployment.status, jobStatus, stopRequestedReason: deployment.stopRequestedReason },
        { type: "POD_OBSERVED", state },
      );
      if (state === "GONE" || (next && (next.status !== deployment.status || next.jobStatus !== jobStatus)))
        moving.push(deployment);
      else candidates.push({ deployment, update });
    }
    if (candidates.length === 0) return { accrued: [], moving };
    const written = new Set(
      (
        await this.db.query<{ id: string }[]>(this.accrualSql.sql, [
          JSON.stringify(candidates.map((c) => this.accrualSql.record(c.deployment, c.update))),
        ])
      ).map((row) => row.id),
    );
    const accrued: Deployment[] = [];
    const announced: Promise<void>[] = [];
    for (const { deployment, update } of candidates) {
      if (!written.has(deployment.id)) continue;
      const costMoved = update.actualCostMicros !== deployment.actualCostMicros;
      accrued.push(Object.assign(deployment, update));
      // Sent together: the bus pipelines them in one round trip instead of one per deployment.
      if (costMoved) announced.push(this.publishToSubscribers(deployment));
    }
    await Promise.all(announced);
    return { accrued, moving };
  }

  /** The statement `accrueMany` writes with, built once from the entity's column metadata. */
  private get accrualSql(): AccrualSql {
    this.accrual ??= accrualStatement(this.db);
    return this.accrual;
  }

  /** Sets the stop flag the metrics route answers, once; the first reason wins. True when this call set it. */
  async requestStop(deploymentId: string, reason: StopReason): Promise<boolean> {
    const changed = await this.transition(deploymentId, ({ deployment }, at) =>
      deployment.stopRequestedAt !== null
        ? undefined
        : {
            signal: null,
            update: { stopRequestedAt: at, stopRequestedReason: reason },
            events: [{ kind: "stop.requested", detail: { reason } }],
            announce: true,
          },
    );
    return changed !== undefined;
  }

  async recordEvent(deploymentId: string, kind: string, detail: Record<string, unknown>): Promise<void> {
    await this.insertEvent(this.db.manager, deploymentId, kind, detail);
  }

  /**
   * Registers a listener told, after the commit, each time a deployment reaches a finished status on this
   * replica, whichever path took it there (the supervisor, the trainer's report, the user).
   */
  onFinished(listener: FinishedListener): void {
    this.finishedListeners.push(listener);
  }

  /** Registers a listener told, in the transaction, of every creation and status move (see `WrittenListener`). */
  onWritten(listener: WrittenListener): void {
    this.writtenListeners.push(listener);
  }

  /** Tells the written listeners, in `tx`, of a deployment created (`previous` null) or moved. */
  async written(
    tx: EntityManager,
    deployment: Deployment,
    job: TrainingJob,
    previous: DeploymentStatus | null,
  ): Promise<void> {
    for (const listener of this.writtenListeners) await listener(tx, deployment, job, previous);
  }

  /** `listener` is told, synchronously, of every committed change before it is published. */
  onChanged(listener: (deployment: Pick<Deployment, "id" | "jobId">) => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * Announces a changed deployment (after the change committed): to this replica's change listeners first (the
   * callback routes' cache, so the pod's next post sees the change), then on the bus to subscribers and to the
   * other replicas.
   */
  async publish(deployment: Pick<Deployment, "id" | "userId" | "jobId">): Promise<void> {
    for (const listener of this.changeListeners) listener(deployment);
    await this.publishToSubscribers(deployment, true);
  }

  /**
   * The bus part of `publish`: the deployment's and its owner's subscribers, and, when what the pod's callbacks
   * see may have changed (a status, the stop flag), the other replicas' callback caches.
   */
  private async publishToSubscribers(
    deployment: Pick<Deployment, "id" | "userId" | "jobId">,
    accessChanged = false,
  ): Promise<void> {
    const event = { deploymentId: deployment.id, userId: deployment.userId };
    try {
      await Promise.all([
        this.bus.publish(topics.deploymentUpdated(deployment.id), event),
        this.bus.publish(topics.userDeploymentUpdated(deployment.userId), event),
        ...(accessChanged ? [this.bus.publish(topics.jobAccessChanged, { jobId: deployment.jobId })] : []),
      ]);
    } catch (error) {
      // The change is committed; a subscriber that missed it sees it on its next event or query.
      this.logger.warn(
        { err: describe(error), deploymentId: deployment.id },
        "could not publish a deployment update",
      );
    }
  }

  private async announce(deployment: Deployment, finished: boolean): Promise<void> {
    await this.publish(deployment);
    if (!finished) return;
    for (const listener of this.finishedListeners) {
      try {
        await listener(deployment);
      } catch (error) {
        this.logger.warn(
          { err: describe(error), deploymentId: deployment.id },
          "a finished-deployment listener failed",
        );
      }
    }
  }

  /** Runs the state machine and fills `update` (the deployment) and writes the job; true when a status moved. */
  private async applySignal(
    tx: EntityManager,
    { deployment, job }: Locked,
    signal: DeploymentSignal,
    at: Date,
    update: Partial<Deployment>,
    jobExtra: Partial<TrainingJob>,
  ): Promise<boolean> {
    const next = nextState(
      {
        status: deployment.status,
        jobStatus: job.status,
        stopRequestedReason: deployment.stopRequestedReason,
      },
      signal,
    );
    const jobUpdate: Partial<TrainingJob> = { ...jobExtra };
    if (next) {
      if (next.status !== deployment.status) {
        update.status = next.status;
        if (next.status === DeploymentStatus.RUNNING && !deployment.startedAt) update.startedAt = at;
        if (isFinished(next.status)) {
          update.completedAt = at;
          update.stopReason = next.stopReason;
        }
        if (next.errorMessage && !deployment.errorMessage) update.errorMessage = next.errorMessage;
        // Out of the queue, whatever the way (its pod made, its wait over, stopped): what a retry needed goes.
        if (deployment.status === DeploymentStatus.QUEUED) Object.assign(update, LEFT_THE_QUEUE);
        await this.insertEvent(tx, deployment.id, "status.changed", {
          from: deployment.status,
          to: next.status,
          because: signal.type,
          ...(next.stopReason ? { stopReason: next.stopReason } : {}),
        });
      }
      if (next.jobStatus !== job.status) {
        jobUpdate.status = next.jobStatus;
        if (next.jobStatus === JobStatus.RUNNING && !job.startedAt) jobUpdate.startedAt = at;
        if (isJobFinished(next.jobStatus)) jobUpdate.completedAt = at;
        if (next.errorMessage && !job.errorMessage) jobUpdate.errorMessage = next.errorMessage;
      }
    }
    await this.updateJob(tx, job, jobUpdate);
    return next !== null && (next.status !== deployment.status || next.jobStatus !== job.status);
  }

  private async updateJob(tx: EntityManager, job: TrainingJob, update: Partial<TrainingJob>): Promise<void> {
    if (Object.keys(update).length > 0) await tx.update(TrainingJob, { id: job.id }, update);
  }

  /**
   * Locks the deployment row; its job is read without a lock. Every change of a job's status is made here, under
   * its deployment's lock, so the read is current; the job row itself stays free for the metric ingest, which
   * updates its progress several times a second, and is only locked by the UPDATE of a transition that moves it.
   */
  private async lock(tx: EntityManager, deploymentId: string): Promise<Locked | undefined> {
    const deployment = await tx.findOne(Deployment, {
      where: { id: deploymentId },
      lock: { mode: "pessimistic_write" },
    });
    if (!deployment) return undefined;
    const job = await tx.findOne(TrainingJob, { where: { id: deployment.jobId } });
    if (!job) return undefined;
    return { deployment, job };
  }

  async insertEvent(
    manager: EntityManager,
    deploymentId: string,
    kind: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await manager.save(manager.create(DeploymentEvent, { deploymentId, kind, detail }));
  }
}

/** One look at a deployment's pod, for `accrueMany`: the deployment as read, its job's status, the pod. */
export interface Look {
  deployment: Deployment;
  jobStatus: JobStatus;
  pod: PodInfo | null;
}

/** The columns one look at the pod brings up to date: its billing, and the price the pod now shows. */
function lookAt(
  deployment: Deployment,
  pod: PodInfo | null,
  at: Date,
): { state: ObservedState; update: Partial<Deployment> } {
  const state = observedState(pod);
  const priceMicros = pod?.costPerHr ? usdToMicros(pod.costPerHr) : (deployment.costPerHourMicros ?? 0);
  const accrual = accrue(
    {
      uptimeSeconds: deployment.uptimeSeconds,
      podUptimeSeconds: deployment.podUptimeSeconds,
      gpuPriceSeconds: deployment.gpuPriceSeconds,
      runningGbSeconds: deployment.runningGbSeconds,
      stoppedGbSeconds: deployment.stoppedGbSeconds,
      observedAt: deployment.lastObservedAt,
    },
    {
      at,
      state,
      podUptimeSeconds: pod?.uptimeSeconds ?? 0,
      runtimeUp: pod?.runtimeUp ?? false,
      costPerHourMicros: priceMicros,
    },
    { volumeGb: deployment.config.volumeSizeGb, containerGb: deployment.config.containerDiskGb },
  );
  const update: Partial<Deployment> = {
    uptimeSeconds: accrual.uptimeSeconds,
    podUptimeSeconds: accrual.podUptimeSeconds,
    gpuPriceSeconds: accrual.gpuPriceSeconds,
    runningGbSeconds: accrual.runningGbSeconds,
    stoppedGbSeconds: accrual.stoppedGbSeconds,
    lastObservedAt: at,
    actualCostMicros: accruedMicros(accrual),
  };
  if (pod?.costPerHr) update.costPerHourMicros = usdToMicros(pod.costPerHr);
  return { state, update };
}

/** The columns `lookAt` sets, by property: what `accrueMany` writes. */
const ACCRUAL_PROPERTIES = [
  "uptimeSeconds",
  "podUptimeSeconds",
  "gpuPriceSeconds",
  "runningGbSeconds",
  "stoppedGbSeconds",
  "lastObservedAt",
  "actualCostMicros",
  "costPerHourMicros",
] as const satisfies readonly (keyof Deployment)[];

interface AccrualSql {
  sql: string;
  /** One element of the statement's JSON: the row's key, what it was read as, and the new values. */
  record(deployment: Deployment, update: Partial<Deployment>): Record<string, unknown>;
}

/**
 * One UPDATE for many rows, the values as one JSON array. A row is written only while it is as it was read:
 * same status, same last look, pod not gone (else another path changed it meanwhile and it is looked at again
 * next time). Column names, types and value transformers come from the entity, so this cannot drift from it.
 */
function accrualStatement(db: DataSource): AccrualSql {
  const metadata = db.getMetadata(Deployment);
  const columns = ACCRUAL_PROPERTIES.map((property) => {
    const column = metadata.findColumnWithPropertyName(property)!;
    const type = db.driver.normalizeType(column);
    return { property, name: column.databaseName, type, column };
  });
  // Wrapped in a SELECT: the driver answers an UPDATE's rows as [rows, count].
  const sql = `
    WITH written AS (UPDATE cloud_deployments d SET
      ${columns.map((c) => `${c.name} = COALESCE(r.${c.name}, d.${c.name})`).join(",\n      ")},
      updated_at = now()
    FROM jsonb_to_recordset($1::jsonb) AS r(
      id uuid, read_status text, read_observed_at timestamptz,
      ${columns.map((c) => `${c.name} ${c.type}`).join(", ")})
    WHERE d.id = r.id AND d.status = r.read_status AND d.pod_terminated_at IS NULL
      AND d.last_observed_at IS NOT DISTINCT FROM r.read_observed_at
    RETURNING d.id)
    SELECT id FROM written`;
  return {
    sql,
    record(deployment, update) {
      const record: Record<string, unknown> = {
        id: deployment.id,
        read_status: deployment.status,
        read_observed_at: deployment.lastObservedAt?.toISOString() ?? null,
      };
      for (const { property, name, column } of columns) {
        const value = update[property];
        if (value === undefined) continue;
        const stored: unknown = column.transformer
          ? (column.transformer as { to(value: unknown): unknown }).to(value)
          : value;
        record[name] = stored instanceof Date ? stored.toISOString() : stored;
      }
      return record;
    },
  };
}

/** What one look at a pod says, for accrual and the state machine. */
function observedState(pod: PodInfo | null): ObservedState {
  if (pod === null || pod.status === PodStatus.TERMINATED) return "GONE";
  if (pod.status === PodStatus.STOPPED) return "STOPPED";
  if (pod.status === PodStatus.RUNNING) return "RUNNING";
  return "STARTING";
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
