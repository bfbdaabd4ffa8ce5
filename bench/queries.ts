/**
 * Query latency at scale, against the targets: `deployments(first: 50)` and `costs` p99 < 25 ms with 100,000 deployments
 * and 10,000,000 metric rows (`costs` for a 100-deployment user < 10 ms); `metrics(maxPoints: 500)` over a
 * 1,000,000-point job < 100 ms. Production mode
 * (PostgreSQL + Redis), the gateway in a child process, queried over HTTP one at a time.
 *
 *   node -r ./test/support/register-ts.js bench/queries.ts [--deployments 100000] [--metric-rows 10000000]
 *        [--big-job-points 1000000] [--iterations 200] [--budget-seconds 20] [--profile]
 *        [--pg postgres://…/postgres] [--redis redis://…]
 *
 * Seed (plain SQL, generate_series, primary key built after the load, then VACUUM ANALYZE): 90 % of the
 * deployments belong to one heavy user (the worst case for a first page and its totalCount), the rest to users
 * of 100 each. The heavy user's newest deployment is a running job with `--big-job-points` points (steps 0..n-1);
 * the other 49 of its first page have 2,000 points each; every other job shares the rest (about 89 each), so the
 * table holds exactly `--metric-rows`. Rows are loaded job by job, so each job's points sit together on disk
 * (favourable to index reads; a real table interleaves jobs).
 *
 * Each query is the dashboard's own document where there is one (src/web/client/dashboard/operations.ts). The
 * ceilings, measured in the same run: `{ __typename }` over the same HTTP path (auth + GraphQL floor), and the
 * very SQL the gateway runs for the query (captured from TypeORM's query log of the same services) replayed with
 * `pg`, so the report shows what the ORM and GraphQL add. `costs` is probed first: while it answers an error
 * (it said "not available yet" before CostReportService landed) it is reported as not implemented, not timed.
 * --profile then serves each gateway query alone under a V8 CPU profile and prints the gateway's hot spots for
 * it.
 */
import { mkdirSync } from "node:fs";
import { Agent, request } from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import { Client, Pool } from "pg";
import { DataSource, type Logger as OrmLogger } from "typeorm";
import { signDevToken } from "../src/auth/jwt";
import { dataSourceOptions } from "../src/db/data-source";
import { ENTITIES } from "../src/server/entities";
import { CostReportService } from "../src/deployments/cost-report.service";
import { DeploymentQueryService } from "../src/deployments/deployment-query.service";
import { MetricQueryService } from "../src/metrics/metric-query.service";
import { jobById, trainingJobLoaders } from "../src/jobs/training-job.loaders";
import { latestMetricByJobId, metricLoaders } from "../src/metrics/metric.loaders";
import { createLoaders } from "../src/server/loaders";
import { DEPLOYMENTS } from "../src/web/client/dashboard/operations";
import { createBenchDatabase, createJobs, SERVICE_OPTIONS } from "./lib/db";
import { BENCH_JWT_SECRET, startGateway, startProfile } from "./lib/gateway";
import { REPO_ROOT } from "./lib/children";
import { printProfile, summarizeProfile, type ProfileSummary } from "./lib/profile";
import { onCleanup, runBench } from "./lib/lifecycle";
import {
  fmt,
  header,
  RESULTS_DIR,
  summarize,
  verdict,
  writeResult,
  type Summary,
  type Verdict,
} from "./lib/report";

const { values: args } = parseArgs({
  options: {
    deployments: { type: "string", default: "100000" },
    "metric-rows": { type: "string", default: "10000000" },
    "big-job-points": { type: "string", default: "1000000" },
    iterations: { type: "string", default: "200" },
    "budget-seconds": { type: "string", default: "20" },
    profile: { type: "boolean", default: false },
    ...SERVICE_OPTIONS,
  },
});
const DEPLOYMENTS_TOTAL = Number(args.deployments);
const METRIC_ROWS = Number(args["metric-rows"]);
const BIG_JOB_POINTS = Number(args["big-job-points"]);
const ITERATIONS = Number(args.iterations);
/** Seconds of timed rounds one query may take before it stops at 20 samples or more. */
const BUDGET_S = Number(args["budget-seconds"]);
const HEAVY_USER = "bench-heavy";
const SMALL_USER = "bench-user-0";
const PAGE_JOB_POINTS = 2_000;

/** The dashboard's cost view: the 100 dearest deployments, how many cost anything, the totals by GPU type and day. */
const COSTS = `query Costs($from: DateTime) {
  costs(from: $from) {
    from to totalUsd activeBurnRateUsdPerHour projectedUsd deploymentCount
    deployments(first: 100) { deployment { id status gpuType } costUsd budgetLimitUsd budgetUsedPercent }
    byGpuType { gpuType gpuHours costUsd }
    byDay { day costUsd }
  }
}`;
/**
 * The costs range: from the UTC midnight 30 days before the bench starts, to now. The heavy user's deployments
 * are one a minute and its newest is 10,000 minutes old, so about 33,000 of them fall in it (a month's worth).
 */
const COSTS_FROM = new Date(Math.floor((Date.now() - 30 * 86_400_000) / 86_400_000) * 86_400_000);
const METRICS = `query Metrics($id: ID!) {
  trainingJob(id: $id) {
    id
    metrics(maxPoints: 500) {
      jobId step epoch loss evalLoss learningRate gradNorm samplesPerSecond elapsedSeconds remainingSeconds
      progress gpuMemoryAllocatedGb gpuMemoryReservedGb gpuUtilizationPercent timestamp
    }
  }
}`;

interface Seeded {
  bigJobId: string;
  seconds: number;
  counts: Record<string, number>;
  sizes: Record<string, string>;
}

/** Loads the tables with SQL. One session, FK triggers off for the load (superuser), the metrics primary key built after. */
async function seed(url: string, templateJobId: string): Promise<Seeded> {
  const started = performance.now();
  const client = new Client({ connectionString: url });
  await client.connect();
  const step = async (label: string, sql: string, params: unknown[] = []) => {
    const t = performance.now();
    await client.query(sql, params);
    console.log(`    seed: ${label} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  };
  try {
    await client.query(`SET synchronous_commit = off`);
    await client.query(`SET maintenance_work_mem = '1GB'`);
    await client.query(`SET session_replication_role = replica`);
    const heavy = Math.round(DEPLOYMENTS_TOTAL * 0.9);
    const smallUsers = Math.ceil((DEPLOYMENTS_TOTAL - heavy) / 100);
    await step(
      "users",
      `INSERT INTO users (id) SELECT $1 UNION ALL SELECT 'bench-user-' || g FROM generate_series(0, $2::int - 1) g
       ON CONFLICT DO NOTHING`,
      [HEAVY_USER, smallUsers],
    );
    // g = 1..N; a higher g is newer. The heavy user owns g <= heavy; its newest is g = heavy.
    const others = DEPLOYMENTS_TOTAL - 50;
    const rest = METRIC_ROWS - BIG_JOB_POINTS - 49 * PAGE_JOB_POINTS;
    const perOther = Math.floor(rest / others);
    const extra = rest - perOther * others;
    await step(
      "job plan",
      `CREATE TEMP TABLE seed_jobs AS
       SELECT g, gen_random_uuid() AS id,
              CASE WHEN g <= $1::int THEN $2 ELSE 'bench-user-' || ((g - $1::int - 1) / 100) END AS user_id,
              now() - (($3::int - g) * interval '1 minute') AS created_at,
              (g > $1::int - 10 AND g <= $1::int) AS running,
              CASE WHEN g = $1::int THEN $4::int
                   WHEN g > $1::int - 50 AND g < $1::int THEN $5::int
                   ELSE $6::int + CASE WHEN (CASE WHEN g < $1::int - 49 THEN g ELSE g - 50 END) <= $7::int THEN 1 ELSE 0 END
              END AS points
       FROM generate_series(1, $3::int) g`,
      [heavy, HEAVY_USER, DEPLOYMENTS_TOTAL, BIG_JOB_POINTS, PAGE_JOB_POINTS, perOther, extra],
    );
    await step(
      "training_jobs",
      `INSERT INTO training_jobs (id, user_id, training_config_id, model_name, dataset_url, status, job_token_hash,
                                  config, progress, started_at, completed_at, created_at, updated_at)
       SELECT s.id, s.user_id, NULL, t.model_name, t.dataset_url,
              CASE WHEN s.running THEN 'RUNNING' ELSE 'COMPLETED' END, t.job_token_hash, t.config,
              CASE WHEN s.running THEN 40 ELSE 100 END, s.created_at + interval '2 minutes',
              CASE WHEN s.running THEN NULL ELSE s.created_at + interval '3 hours' END, s.created_at, s.created_at
       FROM seed_jobs s CROSS JOIN (SELECT * FROM training_jobs WHERE id = $1) t`,
      [templateJobId],
    );
    await step(
      "cloud_deployments",
      `INSERT INTO cloud_deployments (user_id, job_id, platform, status, stop_reason, gpu_type, gpu_count, cloud_type,
                                      config, cost_per_hour, budget_limit, actual_cost, uptime_seconds, pod_id,
                                      created_at, started_at, completed_at, updated_at)
       SELECT s.user_id, s.id, 'RUNPOD', CASE WHEN s.running THEN 'RUNNING' ELSE 'COMPLETED' END,
              CASE WHEN s.running THEN NULL ELSE 'COMPLETED' END,
              (ARRAY['RTX_A4000','A100_SXM_80GB','H100_SXM','L40S'])[1 + s.g % 4], 1, 'SECURE', t.config,
              0.17 + (s.g % 4) * 0.5, 5, round((random() * 4)::numeric, 6), 3600 + s.g % 7200,
              'pod' || s.g, s.created_at, s.created_at + interval '2 minutes',
              CASE WHEN s.running THEN NULL ELSE s.created_at + interval '3 hours' END, s.created_at
       FROM seed_jobs s CROSS JOIN (SELECT * FROM cloud_deployments WHERE job_id = $1) t`,
      [templateJobId],
    );
    // The factory-made template was only a source of column values: it goes, so the first page is all seed rows.
    await step(
      "remove the template job",
      `WITH d AS (DELETE FROM cloud_deployments WHERE job_id = $1) DELETE FROM training_jobs WHERE id = $1`,
      [templateJobId],
    );
    await step(
      "drop metrics primary key",
      `ALTER TABLE training_metrics DROP CONSTRAINT pk_training_metrics`,
    );
    await step(
      `training_metrics (${fmt(METRIC_ROWS)} rows)`,
      `INSERT INTO training_metrics (job_id, step, epoch, loss, eval_loss, learning_rate, grad_norm,
                                     samples_per_second, elapsed_seconds, remaining_seconds, progress,
                                     gpu_memory_allocated_gb, gpu_memory_reserved_gb, gpu_utilization_percent,
                                     recorded_at)
       SELECT s.id, p, p / 1000.0, 0.5 + 2.0 / (1 + p / 500.0) + random() * 0.05, NULL, 0.0002, 1 + random(),
              8.2, p * 3, (s.points - p) * 3, 100.0 * p / s.points, 12.3, 14.0, 97,
              s.created_at + p * interval '3 seconds'
       FROM seed_jobs s CROSS JOIN LATERAL generate_series(0, s.points - 1) p`,
    );
    await step(
      "metrics primary key",
      `ALTER TABLE training_metrics ADD CONSTRAINT pk_training_metrics PRIMARY KEY (job_id, step)`,
    );
    await client.query(`SET session_replication_role = origin`);
    // The load ran with triggers off: the cost report's rollup is built as the migration's backfill builds it.
    await step("cost rollup", `SELECT cost_rollup_rebuild(ARRAY(SELECT id FROM cloud_deployments))`);
    await step("VACUUM ANALYZE", `VACUUM ANALYZE`);
    const [{ id: bigJobId }] = (
      await client.query<{ id: string }>(`SELECT id FROM seed_jobs WHERE g = $1`, [heavy])
    ).rows;
    const counts: Record<string, number> = {};
    const sizes: Record<string, string> = {};
    for (const table of ["cloud_deployments", "training_jobs", "training_metrics"]) {
      const { rows } = await client.query<{ n: string; size: string }>(
        `SELECT count(*) AS n, pg_size_pretty(pg_total_relation_size('${table}')) AS size FROM ${table}`,
      );
      counts[table] = Number(rows[0].n);
      sizes[table] = rows[0].size;
    }
    return { bigJobId, seconds: (performance.now() - started) / 1000, counts, sizes };
  } finally {
    await client.end();
  }
}

/** TypeORM's query log, kept: the exact SQL and parameters a service call sends. */
class CapturingLogger implements OrmLogger {
  statements: { sql: string; params: unknown[] }[] = [];
  logQuery(query: string, parameters?: unknown[]): void {
    this.statements.push({ sql: query, params: parameters ?? [] });
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
  take(): { sql: string; params: unknown[] }[] {
    return this.statements.splice(0);
  }
}

interface Timed {
  label: string;
  gateway: Summary | null;
  sql: Summary | null;
  service: Summary | null;
  note?: string;
}

async function timeIt(run: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await run();
  return performance.now() - t;
}

runBench("queries", async () => {
  header("queries", "query latency at 100,000 deployments / 10,000,000 metric rows, production mode");
  console.log(
    `    ${fmt(DEPLOYMENTS_TOTAL)} deployments, ${fmt(METRIC_ROWS)} metric rows, a ${fmt(BIG_JOB_POINTS)}-point job, ` +
      `${ITERATIONS} timed requests per query`,
  );
  const bench = await createBenchDatabase(args.pg, "queries");
  const [template] = await createJobs(bench.db, 1, () => HEAVY_USER);
  const seeded = await seed(bench.url, template.jobId);
  console.log(
    `    seeded in ${seeded.seconds.toFixed(0)} s: ${JSON.stringify(seeded.counts)} ${JSON.stringify(seeded.sizes)}`,
  );

  // The SQL each query sends, captured from the same services the resolvers call.
  const logger = new CapturingLogger();
  const ds = new DataSource({
    ...dataSourceOptions({ entities: ENTITIES, databaseUrl: bench.url }),
    logging: ["query"],
    logger,
  });
  await ds.initialize();
  onCleanup("close capture data source", () => ds.destroy());
  const deploymentQueries = new DeploymentQueryService(ds);
  const metricQueries = new MetricQueryService(ds);
  const costReports = new CostReportService(ds);
  type Statement = { sql: string; params: unknown[] };
  const captureDeployments = async (userId: string) => {
    logger.take();
    const page = await deploymentQueries.list(userId, null, { first: 50 });
    const first = logger.take();
    const loaders = createLoaders([...trainingJobLoaders(ds), ...metricLoaders(metricQueries)], {
      cache: true,
    });
    const jobIds = page.edges.map((e) => e.node.jobId);
    await Promise.all([
      loaders.get(jobById).loadMany(jobIds),
      loaders.get(latestMetricByJobId).loadMany(jobIds),
    ]);
    return { groups: [first, logger.take()], jobIds };
  };
  const heavy = await captureDeployments(HEAVY_USER);
  const small = await captureDeployments(SMALL_USER);
  logger.take();
  await metricQueries.downsampled(seeded.bigJobId, null, 500);
  const metricsSql = logger.take().map((st) => [st]);
  /**
   * The cost report's statements and its first 100 deployments', all sent together as the `costs` resolver sends
   * them, or null while `costs` is not implemented.
   */
  const captureCosts = async (userId: string): Promise<Statement[][] | null> => {
    logger.take();
    try {
      const range = costReports.range(userId, COSTS_FROM, null);
      await Promise.all([costReports.summarize(range), costReports.deployments(range, 100)]);
    } catch {
      return null;
    }
    return [logger.take()];
  };
  const costsHeavySql = await captureCosts(HEAVY_USER);
  const costsSmallSql = await captureCosts(SMALL_USER);
  const pool = new Pool({ connectionString: bench.url, max: 8 });
  onCleanup("close pg pool", () => pool.end());
  /** Replays captured statements: each group in parallel (as the gateway sends them), groups one after another. */
  const replay = async (groups: Statement[][]) => {
    for (const group of groups) await Promise.all(group.map((st) => pool.query(st.sql, st.params)));
  };
  const plans: Record<string, string[]> = {};
  const explain = async (label: string, statements: Statement[]) => {
    plans[label] = [];
    for (const st of statements) {
      const { rows } = await pool.query<{ "QUERY PLAN": string }>(
        `EXPLAIN (ANALYZE, BUFFERS) ${st.sql}`,
        st.params,
      );
      const cut = (line: string) => (line.length > 240 ? `${line.slice(0, 240)}…` : line);
      plans[label].push(
        [cut(st.sql.replace(/\s+/g, " ")), ...rows.map((r) => cut(r["QUERY PLAN"]))].join("\n"),
      );
    }
  };
  await explain("deploymentsHeavy", heavy.groups.flat());
  await explain("deploymentsSmall", small.groups.flat());
  await explain("metrics", metricsSql.flat());
  if (costsHeavySql) await explain("costsHeavy", costsHeavySql.flat());

  // One user asks hundreds of times a second: the per-user limit (20/s, bursts of 100) would answer 429.
  const gateway = await startGateway("gateway", bench.url, args.redis, {}, [], {
    USER_RATE_PER_SECOND: "1000000",
    USER_RATE_BURST: "1000000",
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  onCleanup("destroy http agent", () => agent.destroy());
  const tokens = {
    heavy: await signDevToken(BENCH_JWT_SECRET, HEAVY_USER, 3600),
    small: await signDevToken(BENCH_JWT_SECRET, SMALL_USER, 3600),
  };
  type GqlBody = { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  const gql = (token: string, query: string, variables: Record<string, unknown> = {}) =>
    new Promise<{ status: number; body: GqlBody }>((resolve, reject) => {
      const req = request(
        `${gateway.url}/graphql`,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as GqlBody;
              resolve({ status: res.statusCode ?? 0, body });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ query, variables }));
    });
  const checked = async (token: string, query: string, variables?: Record<string, unknown>) => {
    const result = await gql(token, query, variables);
    if (result.status !== 200 || result.body.errors)
      throw new Error(`query failed (${result.status}): ${JSON.stringify(result.body.errors)}`);
    return result;
  };

  // Does `costs` answer yet?
  const costsVariables = { from: COSTS_FROM.toISOString() };
  const probe = await gql(tokens.small, COSTS, costsVariables);
  const costsError = probe.body.errors?.[0];
  const costsImplemented = probe.status === 200 && !costsError;
  const costsNote = costsImplemented
    ? undefined
    : `not implemented: ${costsError?.extensions?.code ?? probe.status} "${costsError?.message ?? ""}"`;

  type Work = {
    label: string;
    gateway?: () => Promise<unknown>;
    sql?: () => Promise<unknown>;
    service?: () => Promise<unknown>;
  };
  const work: Work[] = [
    { label: "{ __typename } (floor)", gateway: () => checked(tokens.heavy, "{ __typename }") },
    {
      label: "deployments(first: 50), heavy user",
      gateway: () => checked(tokens.heavy, DEPLOYMENTS, { first: 50 }),
      sql: () => replay(heavy.groups),
    },
    {
      label: "deployments(first: 50), 100-deployment user",
      gateway: () => checked(tokens.small, DEPLOYMENTS, { first: 50 }),
      sql: () => replay(small.groups),
    },
    {
      label: `metrics(maxPoints: 500) over ${fmt(BIG_JOB_POINTS)} points`,
      gateway: () => checked(tokens.heavy, METRICS, { id: seeded.bigJobId }),
      sql: () => replay(metricsSql),
      service: () => metricQueries.downsampled(seeded.bigJobId, null, 500),
    },
  ];
  if (costsImplemented) {
    work.push(
      {
        label: "costs, heavy user",
        gateway: () => checked(tokens.heavy, COSTS, costsVariables),
        ...(costsHeavySql ? { sql: () => replay(costsHeavySql) } : {}),
      },
      {
        label: "costs, 100-deployment user",
        gateway: () => checked(tokens.small, COSTS, costsVariables),
        ...(costsSmallSql ? { sql: () => replay(costsSmallSql) } : {}),
      },
    );
  }

  // Round robin over the queries (noise falls on all alike): 20 warm-up rounds, then `ITERATIONS` timed ones. A
  // query slower than 1 s warms up once only, and one whose timed rounds have taken more than BUDGET_S seconds
  // stops once it has 20 samples, so that a query that takes seconds does not hold the bench for many minutes.
  const samples = work.map(() => ({
    gateway: [] as number[],
    sql: [] as number[],
    service: [] as number[],
    spent: 0,
    slow: false,
    rounds: 0,
  }));
  const warmup = Math.min(20, ITERATIONS);
  for (let i = 0; i < warmup + ITERATIONS; i++) {
    for (const [w, item] of work.entries()) {
      const own = samples[w];
      if (i < warmup && i > 0 && own.slow) continue;
      if (i >= warmup && own.rounds >= 20 && own.spent > BUDGET_S * 1000) continue;
      const started = performance.now();
      const g = item.gateway ? await timeIt(item.gateway) : undefined;
      const q = item.sql ? await timeIt(item.sql) : undefined;
      const sv = item.service ? await timeIt(item.service) : undefined;
      const took = performance.now() - started;
      if (i === 0) own.slow = took > 1_000;
      if (i < warmup) continue;
      own.spent += took;
      own.rounds++;
      if (g !== undefined) own.gateway.push(g);
      if (q !== undefined) own.sql.push(q);
      if (sv !== undefined) own.service.push(sv);
    }
  }
  const orNull = (values: number[]) => (values.length ? summarize(values) : null);
  const timed: Timed[] = work.map((item, w) => ({
    label: item.label,
    gateway: orNull(samples[w].gateway),
    sql: orNull(samples[w].sql),
    service: orNull(samples[w].service),
  }));
  if (!costsImplemented) {
    for (const who of ["heavy user", "100-deployment user"])
      timed.push({ label: `costs, ${who}`, gateway: null, sql: null, service: null, note: costsNote });
  }

  console.log("");
  const cell = (sm: Summary | null) => (sm ? `p50 ${sm.p50} / p99 ${sm.p99} ms` : "-");
  for (const t of timed) {
    console.log(`    ${t.label}`);
    if (t.note) console.log(`        ${t.note}`);
    else
      console.log(
        `        gateway ${cell(t.gateway)} | same SQL via pg ${cell(t.sql)}` +
          (t.service ? ` | service in-process ${cell(t.service)}` : ""),
      );
  }
  const floor = timed[0].gateway!;
  const find = (prefix: string) => timed.find((t) => t.label.startsWith(prefix))!;
  const judge = (what: string, row: Timed, targetMs: number, extra = ""): Verdict =>
    verdict(
      what,
      row.gateway ? `${row.gateway.p99} ms (p50 ${row.gateway.p50})` : (row.note ?? "not measured"),
      `same SQL via pg p99 ${row.sql?.p99 ?? "-"} ms; { __typename } p99 ${floor.p99} ms${extra}`,
      `< ${targetMs} ms`,
      row.gateway ? row.gateway.p99 < targetMs : null,
    );
  const metricsRow = find("metrics(");
  const verdicts: Verdict[] = [
    judge(
      "deployments(first: 50) p99, heavy user (90 % of the deployments)",
      find("deployments(first: 50), heavy"),
      25,
    ),
    judge("deployments(first: 50) p99, user with 100 deployments", find("deployments(first: 50), 100"), 25),
    judge("costs p99, heavy user", find("costs, heavy"), 25),
    judge("costs p99, user with 100 deployments", find("costs, 100"), 10),
    judge(
      `metrics(maxPoints: 500) over ${fmt(BIG_JOB_POINTS)} points p99`,
      metricsRow,
      100,
      `; service in-process p99 ${metricsRow.service?.p99 ?? "-"} ms`,
    ),
  ];
  // --profile: each gateway query again, alone, under a V8 CPU profile of the gateway (up to 30 requests or 10 s).
  const profiles: (ProfileSummary & { label: string })[] = [];
  if (args.profile) {
    const dir = path.join(RESULTS_DIR, "profiles", `queries-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    for (const [w, item] of work.entries()) {
      if (!item.gateway) continue;
      const save = await startProfile(gateway, path.join(dir, `query-${w}.cpuprofile`));
      const started = performance.now();
      for (let n = 0; n < 30 && performance.now() - started < 10_000; n++) await item.gateway();
      const summary = summarizeProfile(await save(), REPO_ROOT);
      console.log(`\n  profile of the gateway serving "${item.label}" alone:`);
      printProfile(summary);
      profiles.push({ label: item.label, ...summary });
    }
  }

  // The plans of statements that took more than 5 ms: where the misses come from.
  const slow = Object.entries(plans).flatMap(([label, list]) =>
    list
      .filter((plan) => Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? 0) > 5)
      .map((plan) => `[${label}] ${plan.split("\n").slice(0, 16).join("\n      ")}`),
  );
  if (slow.length) {
    console.log("\n  plans of statements slower than 5 ms (EXPLAIN ANALYZE, BUFFERS; first 16 lines):");
    for (const plan of slow) console.log(`\n  ${plan}`);
  }
  await gateway.stop();
  writeResult("queries", {
    params: {
      deployments: DEPLOYMENTS_TOTAL,
      metricRows: METRIC_ROWS,
      bigJobPoints: BIG_JOB_POINTS,
      iterations: ITERATIONS,
    },
    seed: seeded,
    timed,
    capturedSql: {
      deploymentsHeavy: heavy.groups,
      deploymentsSmall: small.groups,
      metrics: metricsSql,
      costsHeavy: costsHeavySql,
    },
    plans,
    verdicts,
    profiles,
  });
});
