/**
 * Ingest and fan-out while the background loops run, as production has them, against the same with the loops
 * off: the loops must not stall the request path.
 *
 *   node -r ./test/support/register-ts.js bench/background.ts [--sizes 1000,10000] [--per-user 100]
 *        [--duration 30] [--connections 16] [--jobs 50] [--rate 100] [--subscribers 200] [--watch-jobs 10]
 *        [--profile] [--pg postgres://…/postgres] [--redis redis://…]
 *
 * For each size, that many RUNNING deployments (`--per-user` per account, each account with its RunPod key)
 * hold a pod in a RunPod simulator run as a process of its own (bench/runpod-simulator-entry.ts: its pods run no
 * trainer; they only exist, bill and answer), so the pod supervisor has real work: one listing per account, every deployment observed, its cost
 * accrued and its budget judged. The gateway then runs twice, with the loops off and with them on at their
 * defaults (WATCHDOG_INTERVAL_MS 15 s, SYNC_INTERVAL_MS 30 s: a 30 s window holds three supervisor passes):
 *
 * - ingest: `--connections` keep-alive connections POST one point per request to `--jobs` of the deployments
 *   as fast as they are answered (autocannon, closed loop): writes/s and latency;
 * - fan-out: a poster sends `--rate` POSTs/s of one point each over `--watch-jobs` jobs (each job one request at
 *   a time, as a trainer does), watched by `--subscribers` graphql-ws subscriptions (the dashboard's selection):
 *   the POSTs' own latency, POST-to-delivery latency, loss and order violations.
 *
 * The ceiling is the loops-off run of the same size; the target is every figure with the loops on within 1.2x
 * of it (throughput at least 1/1.2 of it, latencies at most 1.2x, with 2 ms of grace for sub-10 ms figures).
 * The per-job rate limit is lifted, as in bench/ingest.ts.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { signDevToken } from "../src/auth/jwt";
import { loadConfig } from "../src/config/env";
import { RunpodGraphqlClient } from "../src/runpod/runpod-graphql-client";
import { ProviderSecretService } from "../src/secrets/provider-secret.service";
import { Provider } from "../src/secrets/provider";
import { SecretBox } from "../src/secrets/secret-box";
import { CloudType, GpuType } from "../src/runpod/gpu-catalogue";
import { REPO_ROOT, startServer, type ChildHandle } from "./lib/children";
import { createBenchDatabase, createJobsInBulk, SERVICE_OPTIONS } from "./lib/db";
import { BENCH_ENCRYPTION_KEY, BENCH_JWT_SECRET, startProfile } from "./lib/gateway";
import { connectGqlWs, connectMany, stepOf, TRAINING_METRICS_SUBSCRIPTION } from "./lib/gql-ws";
import { runBench, sleep } from "./lib/lifecycle";
import { printProfile, summarizeProfile } from "./lib/profile";
import { CpuMeter, describeCpu } from "./lib/proc";
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
    sizes: { type: "string", default: "1000,10000" },
    "per-user": { type: "string", default: "100" },
    duration: { type: "string", default: "30" },
    connections: { type: "string", default: "16" },
    jobs: { type: "string", default: "50" },
    rate: { type: "string", default: "100" },
    subscribers: { type: "string", default: "200" },
    "watch-jobs": { type: "string", default: "10" },
    profile: { type: "boolean", default: false },
    ...SERVICE_OPTIONS,
  },
});
const SIZES = args.sizes.split(",").map(Number);
const PER_USER = Number(args["per-user"]);
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const JOBS = Number(args.jobs);
const RATE = Number(args.rate);
const SUBSCRIBERS = Number(args.subscribers);
const WATCH_JOBS = Number(args["watch-jobs"]);
const TOLERANCE = 1.2;
/** Latencies under 10 ms move by a millisecond or two between runs on this machine whatever the code does. */
const GRACE_MS = 2;

interface Seeded {
  users: string[];
  tokenOf: Map<string, string>;
  jobs: { jobId: string; userId: string }[];
  jobToken: string;
}

interface IngestFigures {
  writesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  statuses: Record<string, number>;
}

/** What the gateway's /metrics says of its supervisor passes and its event loop (lag since the previous read). */
interface GatewayFigures {
  supervisorPasses: number;
  supervisorMeanSeconds: number;
  eventLoopLagP99Ms: number;
  eventLoopLagMaxMs: number;
}

async function gatewayFigures(url: string): Promise<GatewayFigures> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  const passes = value(/^traingate_background_run_seconds_count\{task="supervise-pods"\} (\S+)$/m);
  const sum = value(/^traingate_background_run_seconds_sum\{task="supervise-pods"\} (\S+)$/m);
  return {
    supervisorPasses: Number.isNaN(passes) ? 0 : passes,
    supervisorMeanSeconds: passes > 0 ? sum / passes : 0,
    eventLoopLagP99Ms: value(/^traingate_nodejs_eventloop_lag_p99_seconds (\S+)$/m) * 1000,
    eventLoopLagMaxMs: value(/^traingate_nodejs_eventloop_lag_max_seconds (\S+)$/m) * 1000,
  };
}

interface FanoutFigures {
  posted: number;
  postMs: Summary;
  deliveryMs: Summary;
  lost: number;
  outOfOrder: number;
}

runBench("background", async () => {
  header(
    "background",
    `ingest and fan-out with ${SIZES.join(" and ")} active deployments, background loops off and on`,
  );
  const bench = await createBenchDatabase(args.pg, "background");
  const sim = await startServer("runpod simulator", "bench/runpod-simulator-entry.ts", {});
  const runpod = new RunpodGraphqlClient({ url: sim.url });
  const config = loadConfig({
    NODE_ENV: "production",
    DATABASE_URL: bench.url,
    REDIS_URL: args.redis,
    JWT_SECRET: BENCH_JWT_SECRET,
    ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
  });
  const secrets = new ProviderSecretService(bench.db.dataSource, new SecretBox(config.encryptionKeys));
  const ds = bench.db.dataSource;
  const seeded: Seeded = { users: [], tokenOf: new Map(), jobs: [], jobToken: "" };
  const verdicts: Verdict[] = [];
  const runs: Record<string, unknown>[] = [];
  const profileDir = path.join(RESULTS_DIR, "profiles");
  if (args.profile) mkdirSync(profileDir, { recursive: true });

  /** Adds accounts, each with `PER_USER` RUNNING deployments holding a simulator pod, until `size` exist. */
  async function seed(size: number): Promise<void> {
    const started = Date.now();
    const wanted = Math.ceil(size / PER_USER);
    const fresh = Array.from(
      { length: wanted - seeded.users.length },
      (_, i) => `bench-bg-${seeded.users.length + i}`,
    );
    if (fresh.length === 0) return;
    const { jobsByUser, token } = await createJobsInBulk(bench.db, fresh, PER_USER);
    for (const userId of fresh) {
      const apiKey = `sim_bench_${userId}`;
      await secrets.set(userId, { provider: Provider.RUNPOD, apiKey });
      seeded.tokenOf.set(userId, await signDevToken(BENCH_JWT_SECRET, userId, 3600));
      seeded.users.push(userId);
    }
    // Each job of the bulk copy shares one job token; the later sizes' jobs get the first size's token too.
    if (!seeded.jobToken) seeded.jobToken = token;
    else
      await ds.query(
        `UPDATE training_jobs SET job_token_hash = (SELECT job_token_hash FROM training_jobs WHERE id = $1)
         WHERE user_id = ANY($2::text[])`,
        [seeded.jobs[0].jobId, fresh],
      );
    const rows = await ds.query<{ id: string; user_id: string; job_id: string }[]>(
      `SELECT id, user_id, job_id FROM cloud_deployments WHERE user_id = ANY($1::text[])`,
      [fresh],
    );
    let next = 0;
    const pods: { id: string; podId: string }[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < rows.length) {
          const row = rows[next++];
          const pod = await runpod.createPod(`sim_bench_${row.user_id}`, {
            name: `traingate-${row.id}`,
            gpuType: GpuType.RTX_A4000,
            gpuCount: 1,
            cloudType: CloudType.SECURE,
            imageName: "runpod/pytorch",
            dockerArgs: "sleep infinity",
            env: {},
            volumeInGb: 20,
            containerDiskInGb: 20,
          });
          pods.push({ id: row.id, podId: pod.id });
        }
      }),
    );
    // RUNNING with a pod, a budget the bench never reaches, billing from now.
    await ds.query(
      `UPDATE cloud_deployments d SET pod_id = p.pod_id, status = 'RUNNING', budget_limit = 10000,
              max_duration_minutes = NULL, created_at = now(), started_at = now(), last_observed_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS p(id, pod_id) WHERE d.id = p.id`,
      [pods.map((p) => p.id), pods.map((p) => p.podId)],
    );
    await ds.query(`UPDATE training_jobs SET status = 'RUNNING' WHERE user_id = ANY($1::text[])`, [fresh]);
    for (const userId of fresh)
      for (const jobId of jobsByUser.get(userId) ?? []) seeded.jobs.push({ jobId, userId });
    await sleep(1_500); // the simulator brings the containers up (startupSeconds 1)
    console.log(
      `\n  seeded ${fmt(rows.length)} more RUNNING deployments with pods (${fmt(seeded.jobs.length)} in all, ` +
        `${seeded.users.length} accounts) in ${fmt((Date.now() - started) / 1000, 1)} s`,
    );
  }

  async function startGateway(loops: boolean): Promise<ChildHandle & { url: string }> {
    return startServer("gateway", "bench/gateway-entry.ts", {
      NODE_ENV: "production",
      DATABASE_URL: bench.url,
      REDIS_URL: args.redis,
      PORT: "0",
      JWT_SECRET: BENCH_JWT_SECRET,
      ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
      LOG_LEVEL: "warn",
      RUNPOD_API_URL: sim.url,
      RUNPOD_API_SIMULATED: "true",
      BENCH_GATEWAY_OPTIONS: JSON.stringify({
        background: loops,
        metricsRoutes: { ratePerSecond: 1e9, burst: 1e9 },
      }),
    });
  }

  /** Jobs spread over the accounts, `count` of them, with a fresh step counter each. */
  function pick(count: number, offset: number): { jobId: string; userId: string; step: number }[] {
    const stride = Math.max(1, Math.floor(seeded.jobs.length / count));
    return Array.from({ length: count }, (_, i) => ({
      ...seeded.jobs[(offset + i * stride) % seeded.jobs.length],
      step: 0,
    }));
  }

  const pointBody = (step: number, sentAt = 0) =>
    `{"metrics":[{"step":${step},"epoch":0.5,"loss":${(2 - step / 1e7).toFixed(6)},"learningRate":0.0002,` +
    `"elapsedSeconds":${sentAt % 100000},"progress":0.4}]}`;

  async function ingest(url: string, meter: CpuMeter): Promise<IngestFigures & { cpu: string }> {
    const targets = pick(JOBS, 1);
    let turn = 0;
    meter.start();
    const result = await autocannon({
      url,
      connections: CONNECTIONS,
      duration: DURATION,
      timeout: 10,
      requests: [
        {
          method: "POST",
          setupRequest: (request) => {
            const job = targets[turn++ % targets.length];
            job.step += 1;
            return {
              ...request,
              path: `/api/training/jobs/${job.jobId}/metrics`,
              headers: { "content-type": "application/json", authorization: `Bearer ${seeded.jobToken}` },
              body: pointBody(job.step),
            };
          },
        },
      ],
    });
    const cpu = describeCpu(meter.stop());
    const statuses: Record<string, number> = {};
    for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count;
    return {
      writesPerSecond: (statuses["200"] ?? 0) / result.duration,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      statuses,
      cpu,
    };
  }

  async function fanout(url: string): Promise<FanoutFigures> {
    const watched = pick(WATCH_JOBS, 2).map((job, i) => ({ ...job, step: 1_000_000 * (i + 1) }));
    const sentAt = new Map<string, number>();
    const deliveries: number[] = [];
    const lastStep = new Map<string, number>();
    let outOfOrder = 0;
    let received = 0;
    const connections = await connectMany(SUBSCRIBERS, 50, async (i) => {
      const job = watched[i % watched.length];
      const key = `${i}`;
      const connection = await connectGqlWs(url, seeded.tokenOf.get(job.userId)!, (_id, raw) => {
        const now = performance.now();
        const step = stepOf(raw);
        const sent = sentAt.get(`${job.jobId}:${step}`);
        if (sent === undefined) return; // a point of the warm-up
        received += 1;
        deliveries.push(now - sent);
        if (step <= (lastStep.get(key) ?? -1)) outOfOrder += 1;
        lastStep.set(key, step);
      });
      connection.subscribe("m", TRAINING_METRICS_SUBSCRIPTION, { jobId: job.jobId });
      return connection;
    });
    const post = async (job: (typeof watched)[number], record: boolean): Promise<number | null> => {
      job.step += 1;
      const started = performance.now();
      if (record) sentAt.set(`${job.jobId}:${job.step}`, started);
      const res = await fetch(`${url}/api/training/jobs/${job.jobId}/metrics`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${seeded.jobToken}` },
        body: pointBody(job.step),
      });
      await res.arrayBuffer();
      if (res.status !== 200) {
        sentAt.delete(`${job.jobId}:${job.step}`);
        return null;
      }
      return performance.now() - started;
    };
    // Warm-up: a point per job until the subscriptions are live.
    await sleep(1_000);
    for (const job of watched) await post(job, false);
    await sleep(1_000);
    const postMs: number[] = [];
    const perJobIntervalMs = (1000 * WATCH_JOBS) / RATE;
    const until = performance.now() + DURATION * 1000;
    await Promise.all(
      watched.map(async (job, i) => {
        await sleep((i * perJobIntervalMs) / WATCH_JOBS);
        let due = performance.now();
        while (due < until) {
          const ms = await post(job, true);
          if (ms !== null) postMs.push(ms);
          due += perJobIntervalMs;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
      }),
    );
    await sleep(2_000);
    await Promise.all(connections.map((c) => c.close()));
    const expected = postMs.length * (SUBSCRIBERS / WATCH_JOBS);
    return {
      posted: postMs.length,
      postMs: summarize(postMs),
      deliveryMs: summarize(deliveries),
      lost: Math.max(0, Math.round(expected - received)),
      outOfOrder,
    };
  }

  const within = (on: number, off: number) => on <= off * TOLERANCE || on <= off + GRACE_MS;
  for (const size of SIZES) {
    await seed(size);
    const figures: Record<
      string,
      { ingest: IngestFigures & { cpu: string }; fanout: FanoutFigures; gateway: GatewayFigures }
    > = {};
    for (const loops of [false, true]) {
      const label = loops ? "loops on" : "loops off";
      const gateway = await startGateway(loops);
      const meter = new CpuMeter({ gateway: gateway.pid });
      await sleep(1_000);
      await gatewayFigures(gateway.url); // resets the event-loop histogram: the next read covers the window
      const stopProfile = args.profile
        ? await startProfile(
            gateway,
            path.join(profileDir, `background-${size}-${label.replace(" ", "-")}.cpuprofile`),
          )
        : undefined;
      const ingestFigures = await ingest(gateway.url, meter);
      const fanoutFigures = await fanout(gateway.url);
      if (stopProfile) printProfile(summarizeProfile(await stopProfile(), REPO_ROOT));
      const own = await gatewayFigures(gateway.url);
      await gateway.stop();
      figures[label] = { ingest: ingestFigures, fanout: fanoutFigures, gateway: own };
      console.log(
        `\n  ${fmt(size)} active deployments, ${label}\n` +
          `    ingest   ${fmt(ingestFigures.writesPerSecond)} writes/s, p50 ${ingestFigures.latencyMs.p50} ms, ` +
          `p99 ${ingestFigures.latencyMs.p99} ms, max ${ingestFigures.latencyMs.max} ms, ` +
          `statuses ${JSON.stringify(ingestFigures.statuses)}; ${ingestFigures.cpu}\n` +
          `    fan-out  ${fmt(fanoutFigures.posted)} posts: own latency p50 ${fanoutFigures.postMs.p50} ms ` +
          `p99 ${fanoutFigures.postMs.p99} ms; delivery p50 ${fanoutFigures.deliveryMs.p50} ms ` +
          `p99 ${fanoutFigures.deliveryMs.p99} ms; lost ${fanoutFigures.lost}, out of order ${fanoutFigures.outOfOrder}\n` +
          `    gateway  supervisor passes ${own.supervisorPasses} (mean ${fmt(own.supervisorMeanSeconds, 2)} s); ` +
          `event-loop delay over the window p99 ${fmt(own.eventLoopLagP99Ms, 1)} ms, max ${fmt(own.eventLoopLagMaxMs, 1)} ms`,
      );
    }
    const off = figures["loops off"];
    const on = figures["loops on"];
    console.log(
      `\n  ${fmt(size)} active deployments: loops on against loops off (target within ${TOLERANCE}x)`,
    );
    verdicts.push(
      verdict(
        `${fmt(size)} active: ingest writes/s, loops on`,
        `${fmt(on.ingest.writesPerSecond)} writes/s`,
        `loops off ${fmt(off.ingest.writesPerSecond)}`,
        `>= 1/${TOLERANCE} of it`,
        on.ingest.writesPerSecond * TOLERANCE >= off.ingest.writesPerSecond,
      ),
      verdict(
        `${fmt(size)} active: ingest p99, loops on`,
        `${on.ingest.latencyMs.p99} ms`,
        `loops off ${off.ingest.latencyMs.p99} ms`,
        `<= ${TOLERANCE}x (or +${GRACE_MS} ms)`,
        within(on.ingest.latencyMs.p99, off.ingest.latencyMs.p99),
      ),
      verdict(
        `${fmt(size)} active: POST p99 at ${RATE}/s, loops on`,
        `${on.fanout.postMs.p99} ms`,
        `loops off ${off.fanout.postMs.p99} ms`,
        `<= ${TOLERANCE}x (or +${GRACE_MS} ms)`,
        within(on.fanout.postMs.p99, off.fanout.postMs.p99),
      ),
      verdict(
        `${fmt(size)} active: delivery p99 to ${SUBSCRIBERS} subscribers, loops on`,
        `${on.fanout.deliveryMs.p99} ms, ${on.fanout.lost} lost, ${on.fanout.outOfOrder} out of order`,
        `loops off ${off.fanout.deliveryMs.p99} ms`,
        `<= ${TOLERANCE}x (or +${GRACE_MS} ms), 0 lost, 0 out of order`,
        within(on.fanout.deliveryMs.p99, off.fanout.deliveryMs.p99) &&
          on.fanout.lost === 0 &&
          on.fanout.outOfOrder === 0,
      ),
    );
    runs.push({ size, ...figures });
  }
  writeResult("background", {
    params: {
      sizes: SIZES,
      perUser: PER_USER,
      duration: DURATION,
      connections: CONNECTIONS,
      jobs: JOBS,
      rate: RATE,
      subscribers: SUBSCRIBERS,
      watchJobs: WATCH_JOBS,
    },
    runs,
    verdicts,
  });
});
