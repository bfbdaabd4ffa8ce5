import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { EventBus } from "../pubsub/event-bus";
import { metricTopics, type MetricBatchEvent } from "./metric.topics";
import type { MetricEvent } from "./metric-event";
import { METRIC_FIELDS } from "./metric-fields";
import type { MetricPoint } from "./metric-payload";

export interface IngestOptions {
  /** Points waiting for a write, across all requests; past it, new requests are refused (503). */
  maxQueuedPoints?: number;
  /** Rows one write takes at most. */
  maxRowsPerWrite?: number;
  /**
   * Writes in flight at once (default 1). More lets the next write start while the previous commits; measured
   * with 16 writers of single points (bench/ingest.ts --concurrent-writes), two writes in flight made smaller
   * groups and one more fsync each: 5,124 against 6,271 writes/s. A job's points are in one write at a time
   * either way, so its writes commit in the order its requests came.
   */
  maxConcurrentWrites?: number;
  /** Told after every committed write (for /metrics). */
  onCommitted?: (points: number, seconds: number) => void;
  /** How long a failed publish of committed points is retried before it is given up (default 60 s). */
  publishRetryMs?: number;
}

/** The queue is full: the caller should answer 503 and let the trainer retry later. */
export class IngestBusyError extends Error {
  constructor() {
    super("metric ingest is busy");
    this.name = "IngestBusyError";
  }
}

interface Pending {
  jobId: string;
  points: MetricPoint[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * What one job has on its way to subscribers: the steps accepted and not yet committed (a count per step, a
 * resend may be in flight twice), the committed points held back behind a lower step still in flight, and the
 * end of its chain of publications.
 */
interface Lane {
  inFlight: Map<number, number>;
  held: MetricEvent[];
  chain: Promise<void> | null;
}

/** The stored columns with their SQL types: the key columns, then one per metric field (its key is its column). */
const COLUMNS: readonly (readonly [string, string])[] = [
  ["job_id", "uuid"],
  ["step", "int4"],
  ...METRIC_FIELDS.map((field) => [field.key, field.kind === "seconds" ? "int4" : "float8"] as const),
  ["non_finite", "bool"],
];

// One statement for a whole write, and so one round trip and one implicit transaction: the rows travel as one
// JSON array (cheaper to send than fourteen typed arrays), the same step is replaced (upsert), and each job's
// progress comes from its highest step in the write, unless a higher step is stored already (a late resend of
// an early point must not move progress back). The write's timestamp comes from the gateway, so the
// points it publishes carry exactly what was stored.
const WRITE = `
  WITH stored AS (
    INSERT INTO training_metrics (${COLUMNS.map(([name]) => name).join(", ")}, recorded_at)
    SELECT ${COLUMNS.map(([name]) => `r.${name}`).join(", ")}, $4::timestamptz
    FROM jsonb_to_recordset($1::jsonb) AS r(${COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})
    ON CONFLICT (job_id, step) DO UPDATE SET
      ${COLUMNS.slice(2)
        .map(([name]) => `${name} = EXCLUDED.${name}`)
        .join(", ")},
      recorded_at = EXCLUDED.recorded_at
  ), progressed AS (
    UPDATE training_jobs j SET progress = COALESCE(p.progress, j.progress), updated_at = now()
    FROM unnest($2::uuid[], $3::float8[], $5::int4[]) AS p(job_id, progress, step)
    WHERE j.id = p.job_id
      AND NOT EXISTS (SELECT 1 FROM training_metrics m WHERE m.job_id = p.job_id AND m.step > p.step)
  )
  SELECT 1`;

/** A point as one element of the write's JSON: the column names as keys. */
function toRecord(row: MetricPoint & { jobId: string }): Record<string, string | number | boolean | null> {
  const record: Record<string, string | number | boolean | null> = { job_id: row.jobId, step: row.step };
  for (const field of METRIC_FIELDS) record[field.key] = row[field.property];
  record.non_finite = row.nonFinite;
  return record;
}

/**
 * Group commit for metric points. Requests hand their points in and wait; a write takes everything queued (up
 * to a bound) and upserts it in one statement; with `maxConcurrentWrites` above 1 the next write starts while
 * the previous commits. A job is in one write at a time (its later requests wait for the next write), so a job's writes never contend for its
 * row and commit in the order its requests came. A request's promise resolves only after its points are
 * committed. The queue is bounded: past it, `submit` refuses at once instead of holding memory.
 *
 * Publication goes in step order per job as far as this replica can see: a committed point waits while a lower
 * step of its job is still in flight here (accepted, not yet committed), then the job's points go in step
 * order, each job's publications one after another. Every committed point is published; another replica may
 * publish the same job's points in between, so the order a subscriber sees is kept by the subscription
 * itself (`MetricStream`): it never delivers a lower step after a higher one of the job, except after the
 * restart marker published by `restartSteps`.
 */
export class MetricIngestService {
  private readonly queue: Pending[] = [];
  private queuedPoints = 0;
  private writes = 0;
  /** Jobs with points in a write now. */
  private readonly writing = new Set<string>();
  private readonly lanes = new Map<string, Lane>();
  private readonly maxQueuedPoints: number;
  private readonly maxRowsPerWrite: number;
  private readonly maxConcurrentWrites: number;
  private readonly onCommitted?: (points: number, seconds: number) => void;
  private readonly publishRetryMs: number;

  constructor(
    private readonly db: DataSource,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: IngestOptions = {},
  ) {
    this.maxQueuedPoints = options.maxQueuedPoints ?? 50_000;
    this.maxRowsPerWrite = options.maxRowsPerWrite ?? 5_000;
    this.maxConcurrentWrites = options.maxConcurrentWrites ?? 1;
    this.onCommitted = options.onCommitted;
    this.publishRetryMs = options.publishRetryMs ?? 60_000;
  }

  /** Resolves once the points are committed (and then published). */
  submit(jobId: string, points: MetricPoint[]): Promise<void> {
    if (this.queuedPoints + points.length > this.maxQueuedPoints)
      return Promise.reject(new IngestBusyError());
    const lane = this.lane(jobId);
    for (const point of points) lane.inFlight.set(point.step, (lane.inFlight.get(point.step) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      this.queue.push({ jobId, points, resolve, reject });
      this.queuedPoints += points.length;
      this.pump();
    });
  }

  /**
   * The job's run starts again (its trainer reported `running`) and redoes steps from its checkpoint: publishes
   * the job's restart marker after this replica's earlier publications of the job, so that its subscriptions, on
   * every replica, deliver the redone lower steps. Resolves once the marker is published, so that the trainer's
   * next points, wherever they land, are published after it; or once its first try failed (the bus is down: it is
   * retried in the background, and a report does not wait for the bus to come back).
   */
  restartSteps(jobId: string): Promise<void> {
    return new Promise((tried) => {
      void this.publishInOrder(jobId, this.lane(jobId), { jobId, points: [], restart: true }, tried);
    });
  }

  /** Points waiting for a write. */
  get backlog(): number {
    return this.queuedPoints;
  }

  private pump(): void {
    while (this.writes < this.maxConcurrentWrites && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) return; // every queued job is in a write: the next commit pumps again
      this.writes += 1;
      const jobs = new Set(batch.map((pending) => pending.jobId));
      for (const jobId of jobs) this.writing.add(jobId);
      void this.write(batch).finally(() => {
        this.writes -= 1;
        for (const jobId of jobs) this.writing.delete(jobId);
        this.pump();
      });
    }
  }

  /** The queued requests of jobs not in a write now, in arrival order, up to the row bound. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let rows = 0;
    for (let i = 0; i < this.queue.length;) {
      const next = this.queue[i];
      if (this.writing.has(next.jobId)) {
        i += 1;
        continue;
      }
      if (batch.length > 0 && rows + next.points.length > this.maxRowsPerWrite) break;
      this.queue.splice(i, 1);
      rows += next.points.length;
      batch.push(next);
    }
    this.queuedPoints -= rows;
    return batch;
  }

  private async write(batch: Pending[]): Promise<void> {
    // Within one statement a (job, step) may appear once: the last one sent wins, as a resend would.
    const byKey = new Map<string, MetricPoint & { jobId: string }>();
    for (const { jobId, points } of batch) {
      for (const point of points) byKey.set(`${jobId}:${point.step}`, { ...point, jobId });
    }
    const rows = [...byKey.values()];
    const latest = new Map<string, { step: number; progress: number | null }>();
    for (const row of rows) {
      const seen = latest.get(row.jobId);
      if (!seen || row.step >= seen.step) latest.set(row.jobId, { step: row.step, progress: row.progress });
    }
    const recordedAt = new Date().toISOString();
    const started = process.hrtime.bigint();
    let failure: unknown = undefined;
    try {
      await this.db.query(WRITE, [
        JSON.stringify(rows.map(toRecord)),
        [...latest.keys()],
        [...latest.values()].map((v) => v.progress),
        recordedAt,
        [...latest.values()].map((v) => v.step),
      ]);
    } catch (error) {
      failure = error ?? new Error("metric write failed");
    }
    // Out of flight either way; committed points join their job's held points.
    for (const { jobId, points } of batch) {
      const lane = this.lane(jobId);
      for (const point of points) {
        const left = (lane.inFlight.get(point.step) ?? 1) - 1;
        if (left > 0) lane.inFlight.set(point.step, left);
        else lane.inFlight.delete(point.step);
      }
    }
    if (failure === undefined) {
      this.onCommitted?.(rows.length, Number(process.hrtime.bigint() - started) / 1e9);
      for (const row of rows) this.lane(row.jobId).held.push({ ...row, recordedAt });
    }
    for (const pending of batch) {
      if (failure === undefined) pending.resolve();
      else pending.reject(failure);
    }
    for (const jobId of new Set(batch.map((pending) => pending.jobId))) this.release(jobId);
  }

  /**
   * Publishes the job's held points that no lower step in flight has to precede, in step order, after the
   * job's earlier publications (each job has its own chain, so the next write never waits for the bus).
   */
  private release(jobId: string): void {
    const lane = this.lanes.get(jobId);
    if (!lane) return;
    let lowestInFlight = Infinity;
    for (const step of lane.inFlight.keys()) if (step < lowestInFlight) lowestInFlight = step;
    const ready = lane.held.filter((p) => p.step < lowestInFlight).sort((a, b) => a.step - b.step);
    lane.held = lane.held.filter((p) => p.step >= lowestInFlight);
    const points: MetricEvent[] = [];
    for (const point of ready) {
      // The same step committed twice while held: the later write is what the table holds.
      if (points.length > 0 && points[points.length - 1].step === point.step)
        points[points.length - 1] = point;
      else points.push(point);
    }
    if (points.length > 0) void this.publishInOrder(jobId, lane, { jobId, points });
    this.settle(jobId);
  }

  /** Publishes an event of the job after the job's earlier publications from this replica. */
  private publishInOrder(
    jobId: string,
    lane: Lane,
    event: MetricBatchEvent,
    tried?: () => void,
  ): Promise<void> {
    const chain = (lane.chain ?? Promise.resolve()).then(() => this.publishWithRetry(jobId, event, tried));
    lane.chain = chain;
    return chain.then(() => {
      if (lane.chain === chain) lane.chain = null;
      this.settle(jobId);
    });
  }

  private lane(jobId: string): Lane {
    let lane = this.lanes.get(jobId);
    if (!lane) {
      lane = { inFlight: new Map(), held: [], chain: null };
      this.lanes.set(jobId, lane);
    }
    return lane;
  }

  /** Forgets an idle lane. */
  private settle(jobId: string): void {
    const lane = this.lanes.get(jobId);
    if (lane && lane.inFlight.size === 0 && lane.held.length === 0 && lane.chain === null)
      this.lanes.delete(jobId);
  }

  /** Publishes, retrying for up to `publishRetryMs`; `tried` is told after the first try, however it went. */
  private async publishWithRetry(jobId: string, event: MetricBatchEvent, tried?: () => void): Promise<void> {
    const giveUpAt = Date.now() + this.publishRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.bus.publish(metricTopics.jobMetric(jobId), event);
        tried?.();
        return;
      } catch (error) {
        tried?.();
        if (Date.now() >= giveUpAt) {
          // Stored all the same: a subscriber resuming with afterStep gets them from the table.
          this.logger.warn(
            {
              jobId,
              points: event.points.length,
              restart: event.restart === true,
              err: error instanceof Error ? error.message : String(error),
            },
            "could not publish metrics; gave up",
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)).unref());
      }
    }
  }
}
