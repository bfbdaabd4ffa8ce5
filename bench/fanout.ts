/**
 * Fan-out: POST-to-delivery latency, loss and order of metric points through gateway replicas (two unless
 * `--replicas` says otherwise) that share PostgreSQL and Redis, against as many bare Redis pub/sub + bare `ws`
 * servers (bench/bare-fanout-server.ts) doing the same fan-out in the same run, and the raw Redis PUBLISH ->
 * message round trip.
 *
 *   node -r ./test/support/register-ts.js bench/fanout.ts [--subscribers 1000] [--jobs 10] [--rate 50]
 *        [--batch 10] [--duration 15] [--replicas 2] [--profile] [--pg postgres://…/postgres] [--redis redis://…]
 *
 * `--subscribers` graphql-ws connections (one `trainingMetrics(jobId)` subscription each, the dashboard's
 * selection), spread evenly over `--jobs` jobs (each job its own user) and, within each job, evenly over the
 * `--replicas` replicas (A, B, C, …). A poster in this
 * same process (so one clock serves both ends) POSTs `--rate` requests/s of `--batch` points to replica A only,
 * round-robin over the jobs, steps increasing per job, open loop (it does not wait for answers). The send time of
 * each request is kept per (job, step); a subscriber's receive time minus it is the latency. Before the measured
 * window, warm-up points are posted until every subscriber has received one (those are left out of the figures).
 * Loss = expected deliveries (points answered 200 x subscribers of the job) - points received; an order
 * violation is a point whose step is below one the same subscriber already received.
 */
import { Agent, request } from "node:http";
import path from "node:path";
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import Redis from "ioredis";
import { signDevToken } from "../src/auth/jwt";
import { REPO_ROOT, startServer, type ChildHandle } from "./lib/children";
import { createBenchDatabase, createJobs, SERVICE_OPTIONS, type BenchJob } from "./lib/db";
import { BENCH_JWT_SECRET, startGateway, startProfile } from "./lib/gateway";
import {
  connectGqlWs,
  connectMany,
  stepOf,
  TRAINING_METRICS_SUBSCRIPTION,
  type GqlWsConnection,
} from "./lib/gql-ws";
import { runBench, sleep } from "./lib/lifecycle";
import { printProfile, summarizeProfile, type ProfileSummary } from "./lib/profile";
import { CpuMeter, describeCpu, type CpuShares } from "./lib/proc";
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
    subscribers: { type: "string", default: "1000" },
    jobs: { type: "string", default: "10" },
    rate: { type: "string", default: "50" },
    batch: { type: "string", default: "10" },
    duration: { type: "string", default: "15" },
    replicas: { type: "string", default: "2" },
    profile: { type: "boolean", default: false },
    ...SERVICE_OPTIONS,
  },
});
const SUBSCRIBERS = Number(args.subscribers);
const JOBS = Number(args.jobs);
const RATE = Number(args.rate);
const BATCH = Number(args.batch);
const DURATION = Number(args.duration);
const REPLICAS = Number(args.replicas);
if (!Number.isInteger(REPLICAS) || REPLICAS < 1 || REPLICAS > 26) throw new Error("--replicas: 1 to 26");
/** Replica labels: A takes the POSTs. */
const LABELS = Array.from({ length: REPLICAS }, (_, i) => String.fromCharCode(65 + i));
/** Measured steps start here; warm-up steps stay below. */
const BASE_STEP = 1_000_000;
const TARGET_P99_MS = 50;

const pointJson = (step: number, sentAt: number) =>
  `{"step":${step},"epoch":0.5,"loss":2.34,"learning_rate":0.0002,"grad_norm":1.1,"samples_per_second":${sentAt},` +
  `"elapsed_seconds":300,"remaining_seconds":900,"progress":25.5,"gpu_memory_allocated_gb":12.3,` +
  `"gpu_memory_reserved_gb":14.0,"gpu_utilization_percent":97}`;

interface Scenario {
  name: string;
  /** One server per replica, in `LABELS` order: the first (A) takes the POSTs. */
  servers: (ChildHandle & { url: string })[];
}

interface ScenarioResult {
  name: string;
  latencyMs: Summary;
  /** By the replica the subscriber is connected to (`LABELS`). */
  latencyByReplicaMs: Record<string, Summary>;
  postLatencyMs: Summary;
  requestsSent: number;
  /** Points the poster managed to send per second (RATE x BATCH when the server keeps up). */
  pointsPerSecondSent: number;
  statuses: Record<string, number>;
  expectedDeliveries: number;
  received: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  subscriberProblems: string[];
  warmupSeconds: number;
  connectSeconds: number;
  cpu: CpuShares;
  /** CPU time of all server processes per point delivered to one subscriber (POST handling included). */
  serverCpuPerDeliveryUs: number;
  profiles: ProfileSummary[];
}

async function runScenario(
  scenario: Scenario,
  jobs: readonly BenchJob[],
  profileDir: string,
): Promise<ScenarioResult> {
  const servers = scenario.servers;
  const A = servers[0];
  const tokens = new Map<string, string>();
  for (const job of jobs) tokens.set(job.userId, await signDevToken(BENCH_JWT_SECRET, job.userId, 3600));

  // Subscriber i: job i % JOBS; replica A for the first JOBS, B for the next JOBS, and so on round the
  // replicas: every job has the same share of its subscribers on each replica.
  const jobOf = Int32Array.from({ length: SUBSCRIBERS }, (_, i) => i % JOBS);
  const replicaOf = Uint8Array.from({ length: SUBSCRIBERS }, (_, i) => Math.floor(i / JOBS) % servers.length);
  const lastStep = new Int32Array(SUBSCRIBERS).fill(-1);
  const receivedMeasured = new Int32Array(SUBSCRIBERS);
  const perJobRequests = Math.ceil((RATE * DURATION) / JOBS) + 10;
  const sentAt = jobs.map(() => new Float64Array(perJobRequests));
  const capacity = Math.ceil(((RATE * DURATION * BATCH) / JOBS) * SUBSCRIBERS * 1.1) + 1_000;
  const latencies = new Float64Array(capacity);
  const latencyReplica = new Uint8Array(capacity);
  let latencyCount = 0;
  let duplicates = 0;
  let orderViolations = 0;
  let live = 0;

  const onNext = (subscriber: number) => (_id: string, raw: string) => {
    const now = performance.now();
    const step = stepOf(raw);
    const last = lastStep[subscriber];
    if (last < 0) live++;
    if (step === last) duplicates++;
    else if (step < last) orderViolations++;
    if (step > last) lastStep[subscriber] = step;
    if (step >= BASE_STEP) {
      receivedMeasured[subscriber]++;
      const request = Math.floor((step - BASE_STEP) / BATCH);
      if (latencyCount < capacity) {
        latencyReplica[latencyCount] = replicaOf[subscriber];
        latencies[latencyCount++] = now - sentAt[jobOf[subscriber]][request];
      }
    }
  };

  const connectStarted = performance.now();
  const connections: GqlWsConnection[] = await connectMany(SUBSCRIBERS, 50, async (i) => {
    const job = jobs[jobOf[i]];
    const connection = await connectGqlWs(servers[replicaOf[i]].url, tokens.get(job.userId)!, onNext(i));
    connection.subscribe("1", TRAINING_METRICS_SUBSCRIPTION, { jobId: job.jobId });
    return connection;
  });
  const connectSeconds = (performance.now() - connectStarted) / 1000;

  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const post = (job: BenchJob, first: number, count: number, stamp: number) =>
    new Promise<number>((resolve) => {
      let body = '{"metrics":[';
      for (let k = 0; k < count; k++) body += (k ? "," : "") + pointJson(first + k, stamp);
      body += "]}";
      const req = request(
        `${A.url}/api/training/jobs/${job.jobId}/metrics`,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", authorization: `Bearer ${job.token}` },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", () => resolve(0));
      req.end(body);
    });

  // Warm-up: one point per job every 200 ms until every subscriber has received something.
  const warmupStarted = performance.now();
  let warmStep = 0;
  while (live < SUBSCRIBERS) {
    if (performance.now() - warmupStarted > 60_000)
      throw new Error(
        `${scenario.name}: only ${live} of ${SUBSCRIBERS} subscribers live after 60 s of warm-up`,
      );
    warmStep++;
    await Promise.all(jobs.map((job) => post(job, warmStep, 1, 0)));
    await sleep(200);
  }
  const warmupSeconds = (performance.now() - warmupStarted) / 1000;
  await sleep(500);

  // Measured window. Each job posts like a real trainer: one request at a time, the next one due
  // JOBS / RATE seconds after the last was due (or at once when the answer came later than that), so the rate
  // holds at RATE requests/s while the gateway keeps up, and drops (reported) when it does not.
  const meter = new CpuMeter(
    Object.fromEntries(servers.map((server, i) => [`replica ${LABELS[i]}`, server.pid])),
  );
  // Only the gateway entry answers profile requests (the bare servers are not profiled).
  const saves =
    args.profile && scenario.name === "gateway"
      ? await Promise.all(
          servers.map((server, i) =>
            startProfile(server, path.join(profileDir, `${scenario.name}-replica-${LABELS[i]}.cpuprofile`)),
          ),
        )
      : [];
  meter.start();
  const accepted = jobs.map(() => 0);
  const statuses: Record<string, number> = {};
  const postLatencies: number[] = [];
  const started = performance.now();
  const end = started + DURATION * 1000;
  const perJob = Math.round((RATE * DURATION) / JOBS);
  let requestsSent = 0;
  await Promise.all(
    jobs.map(async (job, j) => {
      for (let n = 0; n < perJob; n++) {
        const due = started + ((n * JOBS + j) * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        if (performance.now() > end) return;
        const stamp = performance.now();
        sentAt[j][n] = stamp;
        requestsSent++;
        const status = await post(job, BASE_STEP + n * BATCH, BATCH, stamp);
        postLatencies.push(performance.now() - stamp);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) accepted[j]++;
      }
    }),
  );
  const sendSeconds = (performance.now() - started) / 1000;
  // Drain: wait until everything expected arrived, or nothing arrived for 5 s (at most 30 s).
  const expectedFor = (s: number) => accepted[jobOf[s]] * BATCH;
  let expectedDeliveries = 0;
  for (let s = 0; s < SUBSCRIBERS; s++) expectedDeliveries += expectedFor(s);
  const received = () => receivedMeasured.reduce((sum, v) => sum + v, 0);
  let seen = received();
  let quietSince = performance.now();
  const drainStarted = performance.now();
  while (
    seen < expectedDeliveries &&
    performance.now() - quietSince < 5_000 &&
    performance.now() - drainStarted < 30_000
  ) {
    await sleep(100);
    const now = received();
    if (now !== seen) quietSince = performance.now();
    seen = now;
  }
  const cpu = meter.stop();
  const profiles: ProfileSummary[] = [];
  for (const save of saves) profiles.push(summarizeProfile(await save(), REPO_ROOT));
  agent.destroy();

  let lost = 0;
  for (let s = 0; s < SUBSCRIBERS; s++) lost += Math.max(0, expectedFor(s) - receivedMeasured[s]);
  const subscriberProblems = connections.flatMap((c) => c.problems).slice(0, 20);
  await Promise.all(connections.map((c) => c.close()));

  const all = latencies.subarray(0, latencyCount);
  const split = (r: number) => Float64Array.from(all.filter((_, i) => latencyReplica[i] === r));
  const serverCpuPercent = LABELS.reduce((sum, label) => sum + cpu.percentOfOneCore[`replica ${label}`], 0);
  return {
    name: scenario.name,
    latencyByReplicaMs: Object.fromEntries(LABELS.map((label, r) => [label, summarize(split(r))])),
    latencyMs: summarize(Float64Array.from(all)),
    postLatencyMs: summarize(postLatencies),
    requestsSent,
    pointsPerSecondSent: (requestsSent * BATCH) / sendSeconds,
    statuses,
    expectedDeliveries,
    received: seen,
    lost,
    duplicates,
    orderViolations,
    subscriberProblems,
    warmupSeconds,
    connectSeconds,
    cpu,
    serverCpuPerDeliveryUs:
      Math.round((((serverCpuPercent / 100) * cpu.seconds * 1e6) / Math.max(1, seen)) * 10) / 10,
    profiles,
  };
}

/** PUBLISH on one connection, time until the message arrives on another (sequential, `count` times). */
async function redisRoundTrip(url: string, count: number): Promise<Summary> {
  const pub = new Redis(url);
  const sub = new Redis(url);
  try {
    const channel = `bench/rtt/${process.pid}`;
    await sub.subscribe(channel);
    const times: number[] = [];
    let resolveNext: (() => void) | undefined;
    sub.on("message", () => resolveNext?.());
    for (let i = 0; i < count; i++) {
      const arrived = new Promise<void>((resolve) => (resolveNext = resolve));
      const t = performance.now();
      await pub.publish(channel, String(t));
      await arrived;
      times.push(performance.now() - t);
    }
    return summarize(times);
  } finally {
    pub.disconnect();
    sub.disconnect();
  }
}

function show(result: ScenarioResult): void {
  const l = result.latencyMs;
  console.log(
    `    ${result.name.padEnd(8)} POST-to-delivery p50 ${l.p50} ms p90 ${l.p90} ms p99 ${l.p99} ms max ${l.max} ms ` +
      `(${LABELS.map((label) => `${label} ${result.latencyByReplicaMs[label].p99}`).join(" / ")} ms p99) ` +
      `over ${fmt(l.n)} deliveries`,
  );
  console.log(
    `             expected ${fmt(result.expectedDeliveries)}, received ${fmt(result.received)}, lost ${fmt(result.lost)}, ` +
      `duplicates ${result.duplicates}, order violations ${result.orderViolations}; ` +
      `sent ${fmt(result.pointsPerSecondSent)} points/s, POSTs ${JSON.stringify(result.statuses)} ` +
      `p50 ${result.postLatencyMs.p50} ms p99 ${result.postLatencyMs.p99} ms`,
  );
  console.log(
    `             connect ${result.connectSeconds.toFixed(1)} s, warm-up ${result.warmupSeconds.toFixed(1)} s; ` +
      `server CPU per delivery ${result.serverCpuPerDeliveryUs} µs; ${describeCpu(result.cpu)}`,
  );
  for (const problem of result.subscriberProblems.slice(0, 3))
    console.log(`             subscriber saw: ${problem}`);
  for (const profile of result.profiles) printProfile(profile);
}

runBench("fanout", async () => {
  header(
    "fanout",
    `graphql-ws fan-out across ${REPLICAS} replicas (PostgreSQL + Redis) vs bare Redis pub/sub + ws`,
  );
  console.log(
    `    ${SUBSCRIBERS} subscribers on ${JOBS} jobs and ${REPLICAS} replicas, ${RATE} POSTs/s x ${BATCH} points = ` +
      `${RATE * BATCH} points/s to replica A for ${DURATION} s`,
  );
  const redisRtt = await redisRoundTrip(args.redis, 1_000);
  console.log(`    raw Redis PUBLISH -> message round trip: p50 ${redisRtt.p50} ms, p99 ${redisRtt.p99} ms`);

  const bench = await createBenchDatabase(args.pg, "fanout");
  const jobs = await createJobs(bench.db, JOBS, (i) => `bench-fanout-user-${i}`);
  const profileDir = path.join(RESULTS_DIR, "profiles", `fanout-${Date.now()}`);
  if (args.profile) mkdirSync(profileDir, { recursive: true });

  const gateways: Scenario["servers"] = [];
  for (const label of LABELS) gateways.push(await startGateway(`replica ${label}`, bench.url, args.redis));
  const gateway = await runScenario({ name: "gateway", servers: gateways }, jobs, profileDir);
  await Promise.all(gateways.map((g) => g.stop()));

  const bares: Scenario["servers"] = [];
  for (const label of LABELS)
    bares.push(
      await startServer(`bare ${label}`, "bench/bare-fanout-server.ts", { REDIS_URL: args.redis, PORT: "0" }),
    );
  const bare = await runScenario({ name: "bare", servers: bares }, jobs, profileDir);
  await Promise.all(bares.map((b) => b.stop()));

  console.log("");
  show(bare);
  show(gateway);
  const verdicts: Verdict[] = [
    verdict(
      "rate sustained (POSTs answered in time for the next one)",
      `${fmt(gateway.pointsPerSecondSent)} points/s`,
      `bare ${fmt(bare.pointsPerSecondSent)} points/s`,
      `>= 95 % of ${RATE * BATCH} points/s`,
      gateway.pointsPerSecondSent >= 0.95 * RATE * BATCH,
    ),
    verdict(
      "p99 POST-to-delivery",
      `${gateway.latencyMs.p99} ms (p50 ${gateway.latencyMs.p50} ms)`,
      `bare pub/sub+ws p99 ${bare.latencyMs.p99} ms (p50 ${bare.latencyMs.p50}); Redis round trip p99 ${redisRtt.p99} ms`,
      `< ${TARGET_P99_MS} ms`,
      gateway.latencyMs.p99 < TARGET_P99_MS,
    ),
    verdict(
      "p99 POST-to-delivery against the bare pair",
      `${(gateway.latencyMs.p99 / bare.latencyMs.p99).toFixed(2)}x (POST p99 ${gateway.postLatencyMs.p99} ms)`,
      `bare p99 ${bare.latencyMs.p99} ms (POST p99 ${bare.postLatencyMs.p99} ms, which stores nothing)`,
      "<= 1.5x",
      gateway.latencyMs.p99 <= 1.5 * bare.latencyMs.p99,
    ),
    verdict(
      "loss",
      `${fmt(gateway.lost)} of ${fmt(gateway.expectedDeliveries)}`,
      `bare ${fmt(bare.lost)} of ${fmt(bare.expectedDeliveries)}`,
      "0",
      gateway.lost === 0 && gateway.expectedDeliveries > 0,
    ),
    verdict(
      "order violations",
      String(gateway.orderViolations),
      `bare ${bare.orderViolations}`,
      "0",
      gateway.orderViolations === 0,
    ),
  ];
  writeResult("fanout", {
    params: {
      subscribers: SUBSCRIBERS,
      jobs: JOBS,
      rate: RATE,
      batch: BATCH,
      duration: DURATION,
      replicas: REPLICAS,
    },
    redisRoundTripMs: redisRtt,
    gateway,
    bare,
    verdicts,
  });
});
