/**
 * What one PostgreSQL sustains for the metric upsert, without the gateway: the gateway's own write
 * (`MetricIngestService`, the statement every metric POST ends in) driven by `--connections` writers at once,
 * then the disk a million points take, and optionally the same after bench/partition-training-metrics.sql.
 *
 *   node -r ./test/support/register-ts.js bench/pg-ceiling.ts [--connections 16] [--jobs 64] [--rows 10,100]
 *        [--duration 10] [--disk-rows 1000000] [--partition] [--pg postgres://…/postgres]
 *
 * Each writer has its own `MetricIngestService` (which writes one statement at a time) on a pool of
 * `--connections` connections, its own share of `--jobs` jobs, and sends `--rows` points per statement, each a
 * fresh step, for `--duration` seconds: rows/s committed is the ceiling the gateway replicas share (a POST's batch
 * is 10 points; a replica's group commit writes up to 5,000 rows in one statement under load). The publish to
 * Redis is left out (a bus that drops the points). Disk: `training_metrics` truncated, `--disk-rows` points with
 * every column set inserted over the jobs, then `pg_total_relation_size` (heap + primary key + TOAST) per million.
 * `--partition` then converts the table with bench/partition-training-metrics.sql, checks no row was lost, and
 * measures the upsert and the size again.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { openDatabase, type Database } from "../src/db/data-source";
import { ENTITIES } from "../src/server/entities";
import { createBenchDatabase, createJobsInBulk, SERVICE_OPTIONS } from "./lib/db";
import { runBench } from "./lib/lifecycle";
import { upsert, type UpsertResult } from "./lib/storage";
import { describeCpu } from "./lib/proc";
import { fmt, header, round, writeResult } from "./lib/report";

const { values: args } = parseArgs({
  options: {
    connections: { type: "string", default: "16" },
    jobs: { type: "string", default: "64" },
    rows: { type: "string", default: "10,100" },
    duration: { type: "string", default: "10" },
    "disk-rows": { type: "string", default: "1000000" },
    partition: { type: "boolean", default: false },
    ...SERVICE_OPTIONS,
  },
});
const CONNECTIONS = Number(args.connections);
const JOBS = Number(args.jobs);
const ROWS = args.rows.split(",").map(Number);
const DURATION = Number(args.duration);
const DISK_ROWS = Number(args["disk-rows"]);
const PARTITION_SQL = path.join(__dirname, "partition-training-metrics.sql");

interface DiskResult {
  rows: number;
  insertSeconds: number;
  totalBytes: number;
  heapBytes: number;
  indexBytes: number;
  bytesPerMillionRows: number;
}

/** Sizes of training_metrics (summed over its partitions when it has them). */
async function sizes(db: Database): Promise<{ total: number; heap: number; index: number; rows: number }> {
  const [row] = await db.dataSource.query<{ total: string; heap: string; index: string; rows: string }[]>(
    `WITH t AS (
       SELECT c.oid FROM pg_class c WHERE c.oid = 'training_metrics'::regclass
       UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = 'training_metrics'::regclass
     )
     SELECT sum(pg_total_relation_size(oid)) AS total, sum(pg_relation_size(oid)) AS heap,
            sum(pg_indexes_size(oid)) AS index, (SELECT count(*) FROM training_metrics) AS rows
     FROM t`,
  );
  return {
    total: Number(row.total),
    heap: Number(row.heap),
    index: Number(row.index),
    rows: Number(row.rows),
  };
}

/** `DISK_ROWS` points spread over the jobs, every column set, into an empty table; then its size. */
async function disk(db: Database, jobIds: readonly string[]): Promise<DiskResult> {
  await db.dataSource.query(`TRUNCATE training_metrics`);
  const perJob = Math.ceil(DISK_ROWS / jobIds.length);
  const started = performance.now();
  await db.dataSource.query(
    `INSERT INTO training_metrics (job_id, step, epoch, loss, eval_loss, learning_rate, grad_norm,
       samples_per_second, elapsed_seconds, remaining_seconds, progress, gpu_memory_allocated_gb,
       gpu_memory_reserved_gb, gpu_utilization_percent, recorded_at)
     SELECT j.id, s, s / 1000.0, 2.34 / (1 + s), CASE WHEN s % 100 = 0 THEN 2.5 END, 0.0002, 1.1, 8.2, s * 3,
            900, 25.5, 12.3, 14.0, 97, now()
     FROM (SELECT id, ord FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord)) j
     CROSS JOIN generate_series(0, $2::int - 1) AS s
     WHERE (j.ord - 1) * $2::int + s < $3::int`,
    [jobIds, perJob, DISK_ROWS],
  );
  const insertSeconds = (performance.now() - started) / 1000;
  await db.dataSource.query(`VACUUM ANALYZE training_metrics`);
  const size = await sizes(db);
  return {
    rows: size.rows,
    insertSeconds: round(insertSeconds),
    totalBytes: size.total,
    heapBytes: size.heap,
    indexBytes: size.index,
    bytesPerMillionRows: Math.round((size.total / size.rows) * 1e6),
  };
}

const mib = (bytes: number) => `${fmt(bytes / 1024 / 1024, 1)} MiB`;

function showUpsert(label: string, r: UpsertResult): void {
  console.log(
    `    ${label} ${r.rowsPerStatement} rows/statement: ${fmt(r.rowsPerSecond)} rows/s ` +
      `(${fmt(r.statementsPerSecond)} statements/s, p50 ${r.statementMs.p50} ms p99 ${r.statementMs.p99} ms, ` +
      `${fmt(r.rows)} rows in ${r.seconds} s); ${describeCpu(r.cpu)}`,
  );
}

function showDisk(label: string, d: DiskResult): void {
  console.log(
    `    ${label} disk: ${fmt(d.rows)} rows (inserted in ${d.insertSeconds} s) take ${mib(d.totalBytes)} ` +
      `(heap ${mib(d.heapBytes)}, primary key ${mib(d.indexBytes)}) = ${mib(d.bytesPerMillionRows)} per million points`,
  );
}

runBench("pg-ceiling", async () => {
  header("pg-ceiling", "the metric upsert on one PostgreSQL, without the gateway; disk per million points");
  console.log(
    `    ${CONNECTIONS} connections, ${JOBS} jobs, ${ROWS.join(" / ")} rows per statement, ${DURATION} s each`,
  );
  const bench = await createBenchDatabase(args.pg, "pg");
  const { jobsByUser } = await createJobsInBulk(bench.db, ["bench-pg-user"], JOBS);
  const jobIds = [...jobsByUser.values()].flat();
  const db = await openDatabase({ entities: ENTITIES, databaseUrl: bench.url, poolSize: CONNECTIONS });
  try {
    // Every upsert run writes steps above all stored ones: fresh rows, as a running job's points are.
    let step = 0;
    const measure = async (label: string) => {
      const upserts: UpsertResult[] = [];
      for (const rows of ROWS) {
        const result = await upsert(db, jobIds, rows, step, CONNECTIONS, DURATION);
        step += result.rows + 1_000_000;
        showUpsert(label, result);
        upserts.push(result);
      }
      const size = await disk(db, jobIds);
      showDisk(label, size);
      return { upsert: upserts, disk: size };
    };
    const plain = await measure("plain      ");

    let partitioned: ({ convertSeconds: number; rowsAfter: number } & typeof plain) | undefined;
    if (args.partition) {
      const before = (await sizes(db)).rows;
      const started = performance.now();
      await db.dataSource.query(readFileSync(PARTITION_SQL, "utf8"));
      const convertSeconds = round((performance.now() - started) / 1000);
      const rowsAfter = (await sizes(db)).rows;
      console.log(
        `    partitioned: converted ${fmt(before)} rows in ${convertSeconds} s, ${fmt(rowsAfter)} rows after` +
          (rowsAfter === before ? "" : " (ROWS LOST)"),
      );
      if (rowsAfter !== before) throw new Error(`the conversion kept ${rowsAfter} of ${before} rows`);
      partitioned = { convertSeconds, rowsAfter, ...(await measure("partitioned")) };
    }
    writeResult("pg-ceiling", {
      params: { connections: CONNECTIONS, jobs: JOBS, rows: ROWS, duration: DURATION, diskRows: DISK_ROWS },
      plain,
      partitioned,
    });
  } finally {
    await db.close();
  }
});
