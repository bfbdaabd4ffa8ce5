import { MoreThan, type DataSource } from "typeorm";
import { BoundedChannel } from "../pubsub/channel";
import type { LiveStreams } from "../pubsub/live-streams";
import type { MetricEvent } from "./metric-event";
import { MAX_BATCH } from "./metric-payload";
import { metricErrors } from "./metric.errors";
import { metricTopics } from "./metric.topics";
import { TrainingMetric } from "./training-metric.entity";

export interface MetricStreamOptions {
  /** History rows read per query during an afterStep replay. */
  pageSize?: number;
  /** Told of each live point a subscription did not deliver: it had delivered a higher step (for /metrics). */
  onLate?: () => void;
}

/**
 * The `trainingMetrics` subscription: a job's points, live, optionally after a replay of the stored ones.
 * Its buffer holds at least one whole batch (`MAX_BATCH`): a batch's points arrive together, and a smaller
 * buffer would end a client that keeps up.
 */
export class MetricStreamService {
  private readonly buffer: number;
  private readonly pageSize: number;
  private readonly onLate?: () => void;

  constructor(
    private readonly db: DataSource,
    private readonly streams: LiveStreams,
    private readonly jobs: { assertOwned(userId: string, jobId: string): Promise<unknown> },
    options: MetricStreamOptions = {},
  ) {
    this.buffer = Math.max(streams.buffer, MAX_BATCH);
    this.pageSize = options.pageSize ?? 1_000;
    this.onLate = options.onLate;
  }

  /**
   * A job's points. Without `afterStep`: live points only. With it: every stored point after that step in
   * step order, then live points, with no gap and no duplicate at the seam. The subscription to live points is
   * made (and confirmed) before the history is read; live points arriving during the replay wait, and those
   * the history already delivered are dropped at the seam. The steps delivered rise, whichever replica
   * published them: a live point at or below the highest step delivered is not delivered (it is stored, and a
   * replay with `afterStep` below it has it), except after the job's restart marker (its run reported
   * `running` again and redoes steps from its checkpoint).
   */
  async subscribe(
    userId: string,
    jobId: string,
    afterStep: number | null | undefined,
  ): Promise<AsyncIterableIterator<TrainingMetric>> {
    await this.jobs.assertOwned(userId, jobId);
    if (afterStep != null && (!Number.isInteger(afterStep) || afterStep < -1))
      throw metricErrors.badAfterStep();
    const live = new BoundedChannel<TrainingMetric>(this.buffer);
    const stream = new MetricStream(
      live,
      afterStep ?? null,
      (cursor) => this.history(jobId, cursor),
      this.buffer,
      this.onLate,
    );
    await this.streams.feed(userId, live, metricTopics.jobMetric(jobId), (event) => {
      if (event.restart === true) stream.restart();
      for (const point of event.points) stream.offer(point);
    });
    return stream;
  }

  private history(jobId: string, afterStep: number): Promise<TrainingMetric[]> {
    return this.db.getRepository(TrainingMetric).find({
      where: { jobId, step: MoreThan(afterStep) },
      order: { step: "ASC" },
      take: this.pageSize,
    });
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
/** The job's restart marker, in the list of what arrived during a replay. */
const RESTART = "restart";

/**
 * History first, then live points. The history is read page by page as the client consumes it, so a replay of a
 * million points holds one page in memory; live points that arrive meanwhile wait in a bounded list. A live
 * point is the same point as a replayed row when both have the same step and the same commit timestamp; such
 * repeats are dropped at the seam and for a while after it (a publication can trail its commit).
 *
 * The steps it delivers rise: it keeps the highest step delivered (after a replay, the last replayed step, or
 * `afterStep` when none was, set at the seam) and does not deliver a live point at or below it. Replicas
 * publish a job's points independently, so one replica's higher step can reach the bus before another's lower
 * one; the lower one is stored all the same, and a replay with `afterStep` below it has it. The job's restart
 * marker (its run redoes steps from its checkpoint) resets the mark, so the redone steps are delivered; one
 * that arrives during a replay waits in line with the live points, and takes effect between them at the seam.
 */
export class MetricStream implements AsyncIterableIterator<TrainingMetric> {
  private replaying: boolean;
  private page: TrainingMetric[] = [];
  private cursor: number;
  private exhausted = false;
  private readonly waiting: (MetricEvent | typeof RESTART)[] = [];
  /** The highest step delivered since the start or the last restart marker (-1: none). */
  private delivered = -1;
  /** Recent history rows (the only ones a waiting live point can repeat). */
  private readonly recent = new Set<string>();
  private readonly since = Date.now() - SEAM_WINDOW_MS;

  constructor(
    private readonly live: BoundedChannel<TrainingMetric>,
    afterStep: number | null,
    private readonly read: (afterStep: number) => Promise<TrainingMetric[]>,
    private readonly capacity: number,
    private readonly onLate?: () => void,
  ) {
    this.replaying = afterStep !== null;
    this.cursor = afterStep ?? 0;
  }

  /** A live point from the bus. */
  offer(event: MetricEvent): void {
    if (this.replaying) this.wait(event);
    else this.deliver(event);
  }

  /** The job's restart marker from the bus: lower steps are delivered again from here on. */
  restart(): void {
    if (this.replaying) this.wait(RESTART);
    else this.delivered = -1;
  }

  private wait(item: MetricEvent | typeof RESTART): void {
    if (this.waiting.length >= this.capacity) {
      this.live.fail(metricErrors.replayOverflow());
      return;
    }
    this.waiting.push(item);
  }

  private deliver(event: MetricEvent): void {
    // A point committed before the history was read can still be on its way from the bus after the seam.
    if (this.recent.size > 0 && this.recent.delete(pointKey(event.step, event.recordedAt))) return;
    if (event.step <= this.delivered) {
      this.onLate?.();
      return;
    }
    this.delivered = event.step;
    this.live.push(toMetric(event));
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
      this.delivered = this.cursor;
      for (const item of this.waiting.splice(0)) {
        if (item === RESTART) this.delivered = -1;
        else this.deliver(item);
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
