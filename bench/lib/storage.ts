/**
 * PostgreSQL alone for the metric upsert: the gateway's own write (`MetricIngestService`, the statement every
 * metric POST ends in) driven by writers that each send one statement at a time, without HTTP and without the
 * bus. The storage ceiling of bench/ingest.ts and bench/pg-ceiling.ts.
 */
import pino from "pino";
import type { Database } from "../../src/db/data-source";
import { MetricIngestService } from "../../src/metrics/metric-ingest.service";
import type { MetricPoint } from "../../src/metrics/metric-payload";
import type { EventBus } from "../../src/pubsub/event-bus";
import { CpuMeter, type CpuShares } from "./proc";
import { round, summarize, type Summary } from "./report";

/** A bus that takes the committed points and drops them: this bench measures PostgreSQL alone. */
export const DROPPING_BUS: EventBus = {
  publish: () => Promise.resolve(),
  listen: () => Promise.resolve(() => Promise.resolve()),
  onInterrupted: () => () => undefined,
  ping: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};

export const storedPoint = (step: number): MetricPoint => ({
  step,
  epoch: 0.5,
  loss: 2.34,
  evalLoss: null,
  learningRate: 0.0002,
  gradNorm: 1.1,
  samplesPerSecond: 8.2,
  elapsedSeconds: 300,
  remainingSeconds: 900,
  progress: 25.5,
  gpuMemoryAllocatedGb: 12.3,
  gpuMemoryReservedGb: 14,
  gpuUtilizationPercent: 97,
  nonFinite: false,
});

export interface UpsertResult {
  rowsPerStatement: number;
  seconds: number;
  rows: number;
  rowsPerSecond: number;
  statementsPerSecond: number;
  statementMs: Summary;
  cpu: CpuShares;
}

/** `writers` writers, each upserting `rows` fresh steps of its own jobs per statement, one at a time. */
export async function upsert(
  db: Database,
  jobIds: readonly string[],
  rows: number,
  firstStep: number,
  writers: number,
  durationSeconds: number,
): Promise<UpsertResult> {
  const logger = pino({ level: "silent" });
  const meter = new CpuMeter({});
  const times: number[] = [];
  let committed = 0;
  meter.start();
  const started = performance.now();
  const end = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const ingest = new MetricIngestService(db.dataSource, DROPPING_BUS, logger);
      const mine = jobIds.filter((_, j) => j % writers === w);
      for (let n = 0; performance.now() < end; n++) {
        const jobId = mine[n % mine.length];
        const first = firstStep + Math.floor(n / mine.length) * rows;
        const t = performance.now();
        await ingest.submit(
          jobId,
          Array.from({ length: rows }, (_, k) => storedPoint(first + k)),
        );
        times.push(performance.now() - t);
        committed += rows;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = meter.stop();
  return {
    rowsPerStatement: rows,
    seconds: round(seconds),
    rows: committed,
    rowsPerSecond: Math.round(committed / seconds),
    statementsPerSecond: Math.round(times.length / seconds),
    statementMs: summarize(times),
    cpu,
  } satisfies UpsertResult;
}
