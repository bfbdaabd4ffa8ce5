/**
 * Memory per idle subscription: the RSS of one gateway process (production mode: PostgreSQL + Redis) before and
 * after opening `--connections` graphql-ws connections and then `--per-connection` `trainingMetrics`
 * subscriptions on each (10,000 by default), against the bare Redis + ws server (bench/bare-fanout-server.ts)
 * holding the same connections and subscriptions in the same run.
 *
 *   node -r ./test/support/register-ts.js bench/memory.ts [--connections 1000] [--per-connection 10]
 *        [--wave 100] [--pg postgres://…/postgres] [--redis redis://…]
 *
 * Layout: 1,000 users, each with one connection (a dashboard tab) watching 10 of its own jobs, so 10,000
 * subscriptions on 10,000 distinct Redis channels. That is what a busy replica holds (a tab keeps one socket
 * and a handful of subscriptions; 100 per socket would be unusual), it stays under the per-user cap (100) with
 * the product's defaults, and distinct channels are the costlier case for the Redis side.
 *
 * Each subscription is confirmed live (a point published straight to its Redis channel arrived) before the
 * sample. RSS is VmRSS from /proc/<pid>/status: the median of 7 samples, 0.5 s apart, after 3 s idle; then, as
 * both servers run with --expose-gc, a full GC is forced (over IPC, handled in bench/gateway-entry.ts and the bare
 * server; product code is untouched) and 7 more samples after 2 s give a second, less noisy figure. The verdict
 * is all-in (connections included): (RSS with subscriptions - RSS before connections) / subscriptions, after
 * the forced GC (the idle steady state); the figure without it is printed beside it.
 */
import { parseArgs } from "node:util";
import Redis from "ioredis";
import { signDevToken } from "../src/auth/jwt";
import { startServer, type ChildHandle } from "./lib/children";
import { createBenchDatabase, createJobsInBulk, SERVICE_OPTIONS } from "./lib/db";
import { BENCH_JWT_SECRET, memoryUsage, startGateway } from "./lib/gateway";
import { connectGqlWs, connectMany, TRAINING_METRICS_SUBSCRIPTION, type GqlWsConnection } from "./lib/gql-ws";
import { runBench, sleep } from "./lib/lifecycle";
import { rssKiB } from "./lib/proc";
import { fmt, header, median, round, verdict, writeResult, type Verdict } from "./lib/report";

const { values: args } = parseArgs({
  options: {
    connections: { type: "string", default: "1000" },
    "per-connection": { type: "string", default: "10" },
    wave: { type: "string", default: "100" },
    ...SERVICE_OPTIONS,
  },
});
const CONNECTIONS = Number(args.connections);
const PER_CONNECTION = Number(args["per-connection"]);
const SUBSCRIPTIONS = CONNECTIONS * PER_CONNECTION;
/** Connections whose subscriptions open together. */
const WAVE = Number(args.wave);
const TARGET_KIB = 20;

interface Phase {
  /** Median VmRSS (KiB) of the idle samples. */
  rssKiB: number;
  samplesKiB: number[];
  /** Median VmRSS of 7 more samples taken 2 s after a forced full GC (null when gc() was not exposed). */
  rssAfterGcKiB: number | null;
  heapUsedAfterGcKiB: number | null;
  /** V8's committed heap and memory held outside it (Buffers, native), after the forced GC. */
  heapTotalAfterGcKiB: number | null;
  externalAfterGcKiB: number | null;
}

interface ServerResult {
  name: string;
  baseline: Phase;
  connected: Phase;
  subscribed: Phase;
  kibPerConnection: number;
  kibPerSubscriptionMarginal: number;
  kibPerSubscriptionAllIn: number;
  afterGc: {
    kibPerConnection: number;
    kibPerSubscriptionMarginal: number;
    kibPerSubscriptionAllIn: number;
  } | null;
  openSeconds: { connect: number; subscribe: number };
}

async function samplePhase(server: ChildHandle): Promise<Phase> {
  const sample = async () => {
    const values: number[] = [];
    for (let i = 0; i < 7; i++) {
      values.push(rssKiB(server.pid));
      await sleep(500);
    }
    return values;
  };
  await sleep(3_000);
  const samplesKiB = await sample();
  const usage = await memoryUsage(server, true);
  await sleep(2_000);
  const samplesAfterGcKiB = await sample();
  return {
    rssKiB: median(samplesKiB),
    samplesKiB,
    rssAfterGcKiB: usage.gc ? median(samplesAfterGcKiB) : null,
    heapUsedAfterGcKiB: usage.gc ? Math.round(usage.heapUsed / 1024) : null,
    heapTotalAfterGcKiB: usage.gc ? Math.round(usage.heapTotal / 1024) : null,
    externalAfterGcKiB: usage.gc ? Math.round(usage.external / 1024) : null,
  };
}

/** Publishes one point straight to each job's Redis channel until every subscription has received one. */
async function confirmLive(
  redis: Redis,
  jobIds: readonly string[],
  liveJobs: () => Set<string>,
  expected: number,
  liveCount: () => number,
): Promise<void> {
  const started = performance.now();
  let step = 0;
  while (liveCount() < expected) {
    if (performance.now() - started > 60_000)
      throw new Error(`only ${liveCount()} of ${expected} subscriptions live after 60 s`);
    step++;
    const live = liveJobs();
    const recordedAt = new Date().toISOString();
    const pipeline = redis.pipeline();
    for (const jobId of jobIds) {
      if (live.has(jobId)) continue;
      const point = { jobId, step, loss: 1, recordedAt };
      pipeline.publish(`job/${jobId}/metric`, JSON.stringify({ jobId, points: [point] }));
    }
    await pipeline.exec();
    await sleep(1_000);
  }
}

async function measure(
  name: string,
  server: ChildHandle & { url: string },
  users: readonly string[],
  jobsByUser: Map<string, string[]>,
  redis: Redis,
): Promise<ServerResult> {
  const tokens = await Promise.all(users.map((user) => signDevToken(BENCH_JWT_SECRET, user, 3600)));
  // Warm the code paths (and the JIT) with a few connections and subscriptions, then close them.
  const warmUsers = users.slice(0, 20);
  let warmLive = 0;
  const warm = await connectMany(warmUsers.length, 20, (i) =>
    connectGqlWs(server.url, tokens[i], () => {
      warmLive++;
    }),
  );
  warm.forEach((connection, i) =>
    jobsByUser
      .get(warmUsers[i])!
      .slice(0, PER_CONNECTION)
      .forEach((jobId, k) => connection.subscribe(`w${k}`, TRAINING_METRICS_SUBSCRIPTION, { jobId })),
  );
  const warmJobs = warmUsers.flatMap((user) => jobsByUser.get(user)!.slice(0, PER_CONNECTION));
  await confirmLive(
    redis,
    warmJobs,
    () => new Set(),
    warmJobs.length,
    () => warmLive,
  );
  await Promise.all(warm.map((c) => c.close()));

  // Let the warm-up's garbage go before the baseline: two forced GCs (when exposed) and a few idle seconds.
  await memoryUsage(server, true);
  await sleep(2_000);
  await memoryUsage(server, true);
  await sleep(3_000);
  const baseline = await samplePhase(server);
  const connectStarted = performance.now();
  const liveJobs = new Set<string>();
  const jobOfSubscription = new Map<string, string>();
  const connections: GqlWsConnection[] = await connectMany(CONNECTIONS, 50, (i) =>
    connectGqlWs(server.url, tokens[i], (id) => {
      const jobId = jobOfSubscription.get(`${i}/${id}`);
      if (jobId) liveJobs.add(jobId);
    }),
  );
  const connect = (performance.now() - connectStarted) / 1000;
  const connected = await samplePhase(server);

  // Subscriptions open in waves of WAVE connections, each wave confirmed live before the next: all 10,000 at
  // once make some subscribes wait more than the pool's 5 s connect timeout for a database connection, and those
  // fail with INTERNAL_SERVER_ERROR (see --wave 1000 and the README).
  const subscribeStarted = performance.now();
  const allJobs: string[] = [];
  for (let from = 0; from < CONNECTIONS; from += WAVE) {
    const waveJobs: string[] = [];
    connections.slice(from, from + WAVE).forEach((connection, w) => {
      const i = from + w;
      jobsByUser
        .get(users[i])!
        .slice(0, PER_CONNECTION)
        .forEach((jobId, k) => {
          jobOfSubscription.set(`${i}/s${k}`, jobId);
          waveJobs.push(jobId);
          connection.subscribe(`s${k}`, TRAINING_METRICS_SUBSCRIPTION, { jobId });
        });
    });
    allJobs.push(...waveJobs);
    await confirmLive(
      redis,
      waveJobs,
      () => liveJobs,
      allJobs.length,
      () => liveJobs.size,
    ).catch((error: Error) => {
      const problems = connections.flatMap((c) => c.problems);
      throw new Error(
        `${name}: ${error.message}; subscribers saw ${problems.length} problems: ${problems.slice(0, 3).join(" | ")}` +
          `\nserver output:\n${server.tail().split("\n").slice(-3).join("\n").slice(0, 2000)}`,
      );
    });
  }
  const subscribe = (performance.now() - subscribeStarted) / 1000;
  const subscribed = await samplePhase(server);
  const problems = connections.flatMap((c) => c.problems);
  if (problems.length > 0)
    console.log(`    ${name}: subscribers saw ${problems.length} problems, e.g. ${problems[0]}`);
  await Promise.all(connections.map((c) => c.close()));

  const per = (a: number, b: number, n: number) => round((a - b) / n, 2);
  const gc =
    baseline.rssAfterGcKiB !== null && connected.rssAfterGcKiB !== null && subscribed.rssAfterGcKiB !== null
      ? {
          kibPerConnection: per(connected.rssAfterGcKiB, baseline.rssAfterGcKiB, CONNECTIONS),
          kibPerSubscriptionMarginal: per(subscribed.rssAfterGcKiB, connected.rssAfterGcKiB, SUBSCRIPTIONS),
          kibPerSubscriptionAllIn: per(subscribed.rssAfterGcKiB, baseline.rssAfterGcKiB, SUBSCRIPTIONS),
        }
      : null;
  return {
    name,
    baseline,
    connected,
    subscribed,
    kibPerConnection: per(connected.rssKiB, baseline.rssKiB, CONNECTIONS),
    kibPerSubscriptionMarginal: per(subscribed.rssKiB, connected.rssKiB, SUBSCRIPTIONS),
    kibPerSubscriptionAllIn: per(subscribed.rssKiB, baseline.rssKiB, SUBSCRIPTIONS),
    afterGc: gc,
    openSeconds: { connect, subscribe },
  };
}

/** Heap used (after the forced GC) per subscription: V8's own count, steadier than RSS. */
function perHeap(r: ServerResult): string {
  const [a, b] = [r.subscribed.heapUsedAfterGcKiB, r.connected.heapUsedAfterGcKiB];
  return a === null || b === null ? "-" : round((a - b) / SUBSCRIPTIONS, 2).toFixed(2);
}

function show(r: ServerResult): void {
  const mib = (kib: number | null) => (kib === null ? "-" : `${fmt(kib / 1024, 1)} MiB`);
  console.log(
    `    ${r.name.padEnd(8)} RSS baseline ${mib(r.baseline.rssKiB)}, ${fmt(CONNECTIONS)} connections ${mib(r.connected.rssKiB)}, ` +
      `+${fmt(SUBSCRIPTIONS)} subscriptions ${mib(r.subscribed.rssKiB)} (opened in ${r.openSeconds.connect.toFixed(1)} s + ` +
      `${r.openSeconds.subscribe.toFixed(1)} s)`,
  );
  console.log(
    `             per connection ${r.kibPerConnection} KiB, per subscription ${r.kibPerSubscriptionMarginal} KiB marginal, ` +
      `${r.kibPerSubscriptionAllIn} KiB all-in (connections included)`,
  );
  if (r.afterGc)
    console.log(
      `             after a forced GC: RSS ${mib(r.baseline.rssAfterGcKiB)} / ${mib(r.connected.rssAfterGcKiB)} / ` +
        `${mib(r.subscribed.rssAfterGcKiB)}, heap used ${mib(r.baseline.heapUsedAfterGcKiB)} / ` +
        `${mib(r.connected.heapUsedAfterGcKiB)} / ${mib(r.subscribed.heapUsedAfterGcKiB)} ` +
        `(committed ${mib(r.subscribed.heapTotalAfterGcKiB)}, external ${mib(r.subscribed.externalAfterGcKiB)} with ` +
        `subscriptions; heap used per subscription ${perHeap(r)} KiB); per connection ` +
        `${r.afterGc.kibPerConnection} KiB, per subscription ${r.afterGc.kibPerSubscriptionMarginal} KiB marginal, ` +
        `${r.afterGc.kibPerSubscriptionAllIn} KiB all-in`,
    );
}

runBench("memory", async () => {
  header(
    "memory",
    "RSS per idle graphql-ws subscription on one gateway (PostgreSQL + Redis) vs bare Redis + ws",
  );
  console.log(
    `    ${fmt(CONNECTIONS)} connections x ${PER_CONNECTION} subscriptions = ${fmt(SUBSCRIPTIONS)}, each on its own job`,
  );
  const bench = await createBenchDatabase(args.pg, "memory");
  const users = Array.from({ length: CONNECTIONS }, (_, i) => `bench-memory-user-${i}`);
  const { jobsByUser } = await createJobsInBulk(bench.db, users, PER_CONNECTION);
  const redis = new Redis(args.redis);
  try {
    const gateway = await startGateway("gateway", bench.url, args.redis, {}, ["--expose-gc"]);
    const gatewayResult = await measure("gateway", gateway, users, jobsByUser, redis);
    await gateway.stop();
    const bare = await startServer(
      "bare",
      "bench/bare-fanout-server.ts",
      { REDIS_URL: args.redis, PORT: "0" },
      ["--expose-gc"],
    );
    const bareResult = await measure("bare", bare, users, jobsByUser, redis);
    await bare.stop();

    console.log("");
    show(bareResult);
    show(gatewayResult);
    const g = gatewayResult.afterGc;
    const b = bareResult.afterGc;
    const verdicts: Verdict[] = [
      verdict(
        `RSS per idle subscription at ${fmt(SUBSCRIPTIONS)} (all-in, after a forced GC)`,
        g
          ? `${g.kibPerSubscriptionAllIn} KiB (marginal ${g.kibPerSubscriptionMarginal} KiB; per connection ` +
              `${g.kibPerConnection} KiB; without the forced GC ${gatewayResult.kibPerSubscriptionAllIn} KiB all-in; ` +
              `V8 heap used ${perHeap(gatewayResult)} KiB per subscription)`
          : "gc() not exposed",
        b
          ? `bare ${b.kibPerSubscriptionAllIn} KiB (marginal ${b.kibPerSubscriptionMarginal}; per connection ` +
              `${b.kibPerConnection})`
          : "-",
        `< ${TARGET_KIB} KiB`,
        g ? g.kibPerSubscriptionAllIn < TARGET_KIB : null,
      ),
      verdict(
        `the same without forcing a GC (median of idle samples)`,
        `${gatewayResult.kibPerSubscriptionAllIn} KiB all-in (marginal ${gatewayResult.kibPerSubscriptionMarginal})`,
        `bare ${bareResult.kibPerSubscriptionAllIn} KiB`,
        `< ${TARGET_KIB} KiB`,
        gatewayResult.kibPerSubscriptionAllIn < TARGET_KIB,
      ),
    ];
    writeResult("memory", {
      params: {
        connections: CONNECTIONS,
        perConnection: PER_CONNECTION,
        subscriptions: SUBSCRIPTIONS,
        wave: WAVE,
      },
      gateway: gatewayResult,
      bare: bareResult,
      verdicts,
    });
  } finally {
    redis.disconnect();
  }
});
