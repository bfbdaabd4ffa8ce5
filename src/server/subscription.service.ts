import { MoreThan, type DataSource } from "typeorm";
import { BudgetAction } from "../costs/budget";
import type { BudgetAlert } from "../supervision/budget-alert.types";
import { microsToUsd } from "../costs/money";
import type { DeploymentQueryService } from "../deployments/deployment-query.service";
import type { Deployment } from "../deployments/deployment.entity";
import { AppError, ErrorCode } from "../errors/app-error";
import type { TrainingJobService } from "../jobs/training-job.service";
import type { MetricEvent } from "../metrics/metric-event";
import { MAX_BATCH } from "../metrics/metric-payload";
import { TrainingMetric } from "../metrics/training-metric.entity";
import { BoundedChannel } from "../pubsub/channel";
import type { EventBus, Unlisten } from "../pubsub/event-bus";
import { topics, type BudgetAlertEvent } from "../pubsub/topics";

export interface SubscriptionOptions {
  /** Concurrent subscriptions one user may hold on this replica. */
  maxPerUser?: number;
  /**
   * Events a subscription may have waiting for its client before it is ended; at least one whole batch
   * (`MAX_BATCH`), since a batch's points arrive together and a smaller buffer would end a client that keeps up.
   */
  buffer?: number;
  /** History rows read per query during an afterStep replay. */
  pageSize?: number;
}

/**
 * The three live streams (API.md "Subscription"), each authorised when it starts and bounded in memory while
 * it runs.
 */
export class SubscriptionService {
  private readonly perUser = new Map<string, number>();
  private readonly maxPerUser: number;
  private readonly buffer: number;
  private readonly pageSize: number;

  constructor(
    private readonly db: DataSource,
    private readonly bus: EventBus,
    private readonly jobs: TrainingJobService,
    private readonly deployments: DeploymentQueryService,
    options: SubscriptionOptions = {},
  ) {
    this.maxPerUser = options.maxPerUser ?? 100;
    this.buffer = Math.max(options.buffer ?? 5_000, MAX_BATCH);
    this.pageSize = options.pageSize ?? 1_000;
  }

  private live = 0;
  private readonly livePerUser = new Map<string, number>();

  /** Live subscriptions of one user on this replica. */
  openFor(userId: string): number {
    return this.livePerUser.get(userId) ?? 0;
  }

  /**
   * Subscriptions on this replica whose listener is live (the bus confirmed it): from then on, everything
   * published on their topic reaches them.
   */
  get open(): number {
    return this.live;
  }

  /**
   * A job's points. Without `afterStep`: live points only. With it: every stored point after that step in
   * step order, then live points, with no gap and no duplicate at the seam. The subscription to live points is
   * made (and confirmed) before the history is read; live points arriving during the replay wait, and those
   * the history already delivered are dropped at the seam. A point for a step at or below one already sent
   * (a resumed run replacing it) is still delivered.
   */
  async trainingMetrics(
    userId: string,
    jobId: string,
    afterStep: number | null | undefined,
  ): Promise<AsyncIterableIterator<TrainingMetric>> {
    await this.jobs.assertOwned(userId, jobId);
    if (afterStep != null && (!Number.isInteger(afterStep) || afterStep < -1)) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, "afterStep: must be an integer >= -1", {
        field: "afterStep",
      });
    }
    const release = this.acquire(userId);
    const live = new BoundedChannel<TrainingMetric>(this.buffer);
    const stream = new MetricStream(
      live,
      afterStep ?? null,
      (cursor) => this.history(jobId, cursor),
      this.buffer,
    );
    let unlisten: Unlisten | undefined;
    live.onClose(async () => {
      release();
      await unlisten?.();
    });
    try {
      unlisten = await this.bus.listen(topics.jobMetric(jobId), (event) => {
        for (const point of event.points) stream.offer(point);
      });
    } catch (error) {
      live.fail(error);
      throw error;
    }
    this.markLive(userId, live);
    return stream;
  }

  /** Status and cost changes of one deployment, or of all the caller's. Each event carries the row as it is now. */
  async deploymentUpdated(
    userId: string,
    id: string | null | undefined,
  ): Promise<AsyncIterableIterator<Deployment>> {
    if (id) await this.deployments.get(userId, id);
    const topic = id ? topics.deploymentUpdated(id) : topics.userDeploymentUpdated(userId);
    const release = this.acquire(userId);
    // Only the latest state matters: a deployment already waiting to be sent is not queued twice.
    const waiting = new Set<string>();
    const ids = new BoundedChannel<string>(this.buffer);
    const unlisten = await this.bus.listen(topic, (event) => {
      if (event.userId !== userId || waiting.has(event.deploymentId)) return;
      waiting.add(event.deploymentId);
      ids.push(event.deploymentId);
    });
    ids.onClose(async () => {
      release();
      await unlisten();
    });
    this.markLive(userId, ids);
    return mapIterator(ids, async (deploymentId) => {
      waiting.delete(deploymentId);
      return this.deployments.get(userId, deploymentId);
    });
  }

  /** The caller's budget alerts, as they are raised. */
  async budgetAlerts(userId: string): Promise<AsyncIterableIterator<BudgetAlert>> {
    const release = this.acquire(userId);
    const alerts = new BoundedChannel<BudgetAlertEvent>(this.buffer);
    const unlisten = await this.bus.listen(topics.userBudgetAlert(userId), (event) => {
      if (event.userId === userId) alerts.push(event);
    });
    alerts.onClose(async () => {
      release();
      await unlisten();
    });
    this.markLive(userId, alerts);
    return mapIterator(alerts, async (event) => ({
      deployment: await this.deployments.get(userId, event.deploymentId),
      thresholdPercent: event.thresholdPercent,
      actualCostUsd: microsToUsd(event.actualCostMicros),
      budgetLimitUsd: microsToUsd(event.budgetLimitMicros),
      action: BudgetAction[event.action],
      at: new Date(event.at),
    }));
  }

  private history(jobId: string, afterStep: number): Promise<TrainingMetric[]> {
    return this.db.getRepository(TrainingMetric).find({
      where: { jobId, step: MoreThan(afterStep) },
      order: { step: "ASC" },
      take: this.pageSize,
    });
  }

  /** Counts a subscription as live until its channel closes. */
  private markLive(
    userId: string,
    channel: { onEnd(handler: () => void): void; fail(error: unknown): void },
  ): void {
    // Events published while the bus was unreachable are gone: the stream ends with a code that says to
    // subscribe again (metrics with afterStep, which replays from the database without a gap), never silence.
    const offInterrupted = this.bus.onInterrupted(() =>
      channel.fail(
        new AppError(
          ErrorCode.UPSTREAM_UNAVAILABLE,
          "live events were interrupted (the pub/sub connection dropped); subscribe again, with afterStep for metrics, to continue without a gap",
          { retryAfterSeconds: 1 },
        ),
      ),
    );
    channel.onEnd(offInterrupted);
    this.live += 1;
    this.livePerUser.set(userId, this.openFor(userId) + 1);
    channel.onEnd(() => {
      this.live -= 1;
      const left = this.openFor(userId) - 1;
      if (left <= 0) this.livePerUser.delete(userId);
      else this.livePerUser.set(userId, left);
    });
  }

  private acquire(userId: string): () => void {
    const open = this.perUser.get(userId) ?? 0;
    if (open >= this.maxPerUser) {
      throw new AppError(ErrorCode.RATE_LIMITED, `at most ${this.maxPerUser} subscriptions at once per user`);
    }
    this.perUser.set(userId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.perUser.get(userId) ?? 1) - 1;
      if (now <= 0) this.perUser.delete(userId);
      else this.perUser.set(userId, now);
    };
  }
}

/** Published points as GraphQL values, one per published point however many subscriptions deliver it. */
const asMetric = new WeakMap<MetricEvent, TrainingMetric>();

/**
 * A stored or published point as the GraphQL type. Subscriptions to one job share the bus's event object, and
 * so the value made from it: executions of the same document over the same value can then be shared too
 * (see `sharedExecution`).
 */
export function toMetric(event: MetricEvent): TrainingMetric {
  let metric = asMetric.get(event);
  if (!metric) {
    metric = Object.assign(new TrainingMetric(), { ...event, recordedAt: new Date(event.recordedAt) });
    asMetric.set(event, metric);
  }
  return metric;
}

const pointKey = (step: number, recordedAt: Date | string) => `${step}@${new Date(recordedAt).getTime()}`;
/** Live points published during a replay were committed at most this long before the subscription began. */
const SEAM_WINDOW_MS = 60_000;

/**
 * History first, then live points. The history is read page by page as the client consumes it, so a replay of a
 * million points holds one page in memory; live points that arrive meanwhile wait in a bounded list. A live
 * point is the same point as a replayed row when both have the same step and the same commit timestamp; such
 * repeats are dropped at the seam and for a while after it (a publication can trail its commit).
 */
export class MetricStream implements AsyncIterableIterator<TrainingMetric> {
  private replaying: boolean;
  private page: TrainingMetric[] = [];
  private cursor: number;
  private exhausted = false;
  private readonly waiting: MetricEvent[] = [];
  /** Recent history rows (the only ones a waiting live point can repeat). */
  private readonly recent = new Set<string>();
  private readonly since = Date.now() - SEAM_WINDOW_MS;

  constructor(
    private readonly live: BoundedChannel<TrainingMetric>,
    afterStep: number | null,
    private readonly read: (afterStep: number) => Promise<TrainingMetric[]>,
    private readonly capacity: number,
  ) {
    this.replaying = afterStep !== null;
    this.cursor = afterStep ?? 0;
  }

  /** A live point from the bus. */
  offer(event: MetricEvent): void {
    if (!this.replaying) {
      // A point committed before the history was read can still be on its way from the bus after the seam.
      if (this.recent.size > 0 && this.recent.delete(pointKey(event.step, event.recordedAt))) return;
      this.live.push(toMetric(event));
      return;
    }
    if (this.waiting.length >= this.capacity) {
      this.live.fail(
        new AppError(
          ErrorCode.RATE_LIMITED,
          "too many points arrived during the replay; subscribe again with afterStep",
        ),
      );
      return;
    }
    this.waiting.push(event);
  }

  async next(): Promise<IteratorResult<TrainingMetric>> {
    while (this.replaying) {
      const row = this.page.shift();
      if (row) return { value: row, done: false };
      if (!this.exhausted) {
        const rows = await this.read(this.cursor);
        if (rows.length === 0) this.exhausted = true;
        for (const r of rows)
          if (r.recordedAt.getTime() >= this.since) this.recent.add(pointKey(r.step, r.recordedAt));
        this.page = rows;
        if (rows.length > 0) this.cursor = rows[rows.length - 1].step;
        continue;
      }
      // The seam, synchronous: nothing published can slip in between the last history row and the first live one.
      this.replaying = false;
      for (const event of this.waiting.splice(0)) {
        if (!this.recent.delete(pointKey(event.step, event.recordedAt))) this.live.push(toMetric(event));
      }
      // The replayed rows stay known a little longer: their publications may still be in flight.
      setTimeout(() => this.recent.clear(), SEAM_WINDOW_MS / 2).unref();
    }
    return this.live.next();
  }

  return(): Promise<IteratorResult<TrainingMetric>> {
    this.replaying = false;
    this.page = [];
    this.waiting.length = 0;
    this.recent.clear();
    return this.live.return();
  }

  throw(error?: unknown): Promise<IteratorResult<TrainingMetric>> {
    return this.live.throw(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TrainingMetric> {
    return this;
  }
}

/** `source` with each value mapped; ending the result ends the source. */
function mapIterator<T, U>(
  source: AsyncIterableIterator<T>,
  map: (value: T) => Promise<U>,
): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next() {
      const result = await source.next();
      return result.done ? { value: undefined, done: true } : { value: await map(result.value), done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await source.throw?.(error);
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
