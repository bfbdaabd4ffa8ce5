import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { EventBus } from "../pubsub/event-bus";
import { metricTopics } from "./metric.topics";
import type { MetricEvent } from "./metric-event";
import { METRIC_FIELDS } from "./metric-fields";
import type { MetricPoint } from "./metric-payload";

export interface IngestOptions {
  /** Points waiting for a write, across all requests; past it, new requests are refused (503). */
  maxQueuedPoints?: number;
  /** Rows one write takes at most. */
  maxRowsPerWrite?: number;
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

/** The stored columns with their SQL types: the key columns, then one per metric field (its key is its column). */
const COLUMNS: readonly (readonly [string, string])[] = [
  ["job_id", "uuid"],
  ["step", "int4"],
  ...METRIC_FIELDS.map((field) => [field.key, field.kind === "seconds" ? "int4" : "float8"] as const),
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
function toRecord(row: MetricPoint & { jobId: string }): Record<string, string | number | null> {
  const record: Record<string, string | number | null> = { job_id: row.jobId, step: row.step };
  for (const field of METRIC_FIELDS) record[field.key] = row[field.property];
  return record;
}

/**
 * Group commit for metric points. Requests hand their points in and wait; one write at a time takes everything
 * queued (up to a bound) and upserts it in one statement. A request's promise resolves only
 * after its points are committed, and the points are published after that, job by job in step order. The
 * queue is bounded: past it, `submit` refuses at once instead of holding memory.
 */
export class MetricIngestService {
  private readonly queue: Pending[] = [];
  private queuedPoints = 0;
  private writing = false;
  private readonly maxQueuedPoints: number;
  private readonly maxRowsPerWrite: number;
  private readonly onCommitted?: (points: number, seconds: number) => void;
  private readonly publishRetryMs: number;
  /** Per job, the end of its chain of publications (see `publish`). */
  private readonly publishing = new Map<string, Promise<void>>();

  constructor(
    private readonly db: DataSource,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: IngestOptions = {},
  ) {
    this.maxQueuedPoints = options.maxQueuedPoints ?? 50_000;
    this.maxRowsPerWrite = options.maxRowsPerWrite ?? 5_000;
    this.onCommitted = options.onCommitted;
    this.publishRetryMs = options.publishRetryMs ?? 60_000;
  }

  /** Resolves once the points are committed (and then published). */
  submit(jobId: string, points: MetricPoint[]): Promise<void> {
    if (this.queuedPoints + points.length > this.maxQueuedPoints)
      return Promise.reject(new IngestBusyError());
    return new Promise((resolve, reject) => {
      this.queue.push({ jobId, points, resolve, reject });
      this.queuedPoints += points.length;
      this.pump();
    });
  }

  /** Points waiting for a write. */
  get backlog(): number {
    return this.queuedPoints;
  }

  private pump(): void {
    if (this.writing || this.queue.length === 0) return;
    const batch: Pending[] = [];
    let rows = 0;
    while (
      this.queue.length > 0 &&
      (batch.length === 0 || rows + this.queue[0].points.length <= this.maxRowsPerWrite)
    ) {
      const next = this.queue.shift()!;
      rows += next.points.length;
      batch.push(next);
    }
    this.queuedPoints -= rows;
    this.writing = true;
    void this.write(batch).finally(() => {
      this.writing = false;
      this.pump();
    });
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
    try {
      await this.db.query(WRITE, [
        JSON.stringify(rows.map(toRecord)),
        [...latest.keys()],
        [...latest.values()].map((v) => v.progress),
        recordedAt,
        [...latest.values()].map((v) => v.step),
      ]);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.onCommitted?.(rows.length, Number(process.hrtime.bigint() - started) / 1e9);
    for (const pending of batch) pending.resolve();
    this.publish(rows, recordedAt);
  }

  /**
   * Hands committed points to the bus without making the next write wait: each job has its own chain, so its
   * points are published in commit order, and a failed publish is retried (with backoff, up to
   * `publishRetryMs`) before the job's later points go. While Redis is down the writes go on; its subscribers
   * have been told to resubscribe (EventBus.onInterrupted) and replay from the table.
   */
  private publish(rows: (MetricPoint & { jobId: string })[], recordedAt: string): void {
    const byJob = new Map<string, MetricEvent[]>();
    for (const row of rows) {
      const events = byJob.get(row.jobId) ?? [];
      events.push({ ...row, recordedAt });
      byJob.set(row.jobId, events);
    }
    for (const [jobId, points] of byJob) {
      points.sort((a, b) => a.step - b.step);
      const tail = (this.publishing.get(jobId) ?? Promise.resolve()).then(() =>
        this.publishWithRetry(jobId, points),
      );
      this.publishing.set(jobId, tail);
      void tail.then(() => {
        if (this.publishing.get(jobId) === tail) this.publishing.delete(jobId);
      });
    }
  }

  private async publishWithRetry(jobId: string, points: MetricEvent[]): Promise<void> {
    const giveUpAt = Date.now() + this.publishRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.bus.publish(metricTopics.jobMetric(jobId), { jobId, points });
        return;
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          // Stored all the same: a subscriber resuming with afterStep gets them from the table.
          this.logger.warn(
            { jobId, points: points.length, err: error instanceof Error ? error.message : String(error) },
            "could not publish metrics; gave up",
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)).unref());
      }
    }
  }

  /** Jobs whose points are still on their way to the bus. */
  get publishingJobs(): number {
    return this.publishing.size;
  }
}
