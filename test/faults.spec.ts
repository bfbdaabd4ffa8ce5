import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { signDevToken } from "../src/auth/jwt";
import { startRunpodSimulator, type RunpodSimulator } from "../src/runpod-sim/runpod-simulator";
import { dropTestDatabases, freshDatabase, usingPostgres } from "./support/database";
import { deferred, untilEvent } from "./support/eventually";
import { TEST_JWT_SECRET } from "./support/gateway";
import { freePort } from "./support/simulated";
import { spawnGateway as spawnProcess } from "./support/spawn-gateway";
import { startTcpProxy } from "./support/tcp-proxy";
import { collect, wsClient } from "./support/ws";

// Faults a production gateway must survive without losing an acknowledged metric point: killed with -9 in the
// middle of ingest, and its PostgreSQL unreachable for ten seconds. (A kill -9 in the middle of a deploy, with
// the pod reaped afterwards, is in reconciler.spec.ts.)

let simulator: RunpodSimulator;
beforeAll(async () => {
  simulator = await startRunpodSimulator({ trainer: false, autoAccountPrefix: null });
});
afterAll(async () => {
  await simulator.close();
  await dropTestDatabases();
});

/** A gateway in its own process, killable with -9, upstream the simulator. */
const spawnGateway = (env: Record<string, string>) => spawnProcess({ RUNPOD_API_URL: simulator.url, ...env });

async function gql<T>(url: string, user: string, query: string, variables?: unknown): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${await signDevToken(TEST_JWT_SECRET, user, 3600)}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

/** A deployed job through the real API, with the token its pod was given. */
async function deployJob(url: string, user: string): Promise<{ jobId: string; jobToken: string }> {
  const { apiKey } = simulator.addAccount();
  await gql(
    url,
    user,
    `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
    {
      k: apiKey,
    },
  );
  const config = await gql<{ createTrainingConfig: { id: string } }>(
    url,
    user,
    `mutation { createTrainingConfig(input: { name: "f", modelName: "gpt2", datasetUrl: "https://example.com/d.jsonl" }) { id } }`,
  );
  simulator.clearRequests();
  const deployed = await gql<{ deployTraining: { job: { id: string } } }>(
    url,
    user,
    `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { job { id } } }`,
    { input: { trainingConfigId: config.createTrainingConfig.id } },
  );
  const create = simulator.requests.find((r) => r.fields.includes("podFindAndDeployOnDemand"))!;
  const env = (create.variables as { input: { env: { key: string; value: string }[] } }).input.env;
  return { jobId: deployed.deployTraining.job.id, jobToken: env.find((e) => e.key === "JOB_TOKEN")!.value };
}

/** What a reporter does: posts one batch, answers the HTTP status (0 when the connection died). */
async function postBatch(
  url: string,
  job: { jobId: string; jobToken: string },
  steps: number[],
): Promise<number> {
  try {
    const res = await fetch(`${url}/api/training/jobs/${job.jobId}/metrics`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${job.jobToken}` },
      body: JSON.stringify({ metrics: steps.map((step) => ({ step, loss: 2 - step / 1000 })) }),
    });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

async function storedSteps(url: string, user: string, jobId: string): Promise<number[]> {
  const data = await gql<{ trainingJob: { metrics: { step: number }[] } }>(
    url,
    user,
    `query($id: ID!) { trainingJob(id: $id) { metrics(limit: 10000) { step } } }`,
    { id: jobId },
  );
  return data.trainingJob.metrics.map((m) => m.step);
}

const METRICS = `subscription($jobId: ID!, $afterStep: Int) { trainingMetrics(jobId: $jobId, afterStep: $afterStep) { step } }`;

describe("faults", () => {
  it("loses no acknowledged point when the gateway is killed with -9 mid-ingest, and a resubscribe replays them all", async () => {
    const database = usingPostgres() ? await freshDatabase() : undefined;
    const env = {
      PORT: String(await freePort()),
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "traingate-fault-")),
      DATABASE_URL: database?.databaseUrl ?? "",
      REDIS_URL: process.env.REDIS_URL ?? "",
    };
    const first = await spawnGateway(env);
    const job = await deployJob(first.url, "fault-kill");
    // Three reporters post batches of five steps each, as fast as they are answered, until the kill.
    const acknowledged: number[] = [];
    const enough = deferred("150 acknowledged points", 30_000, () => `${acknowledged.length} acknowledged`);
    let stop = false;
    const reporters = [0, 1, 2].map(async (reporter) => {
      for (let batch = 0; !stop; batch++) {
        const steps = Array.from({ length: 5 }, (_, i) => reporter * 100_000 + batch * 5 + i);
        if ((await postBatch(first.url, job, steps)) === 200) acknowledged.push(...steps);
        if (acknowledged.length >= 150) enough.resolve();
      }
    });
    await enough.promise.catch((error: unknown) => {
      stop = true;
      first.child.kill("SIGKILL");
      throw error;
    });
    // Listened for before the kill: a process killed by a signal has no exitCode to look at afterwards.
    const exited = untilEvent(first.child, "exit", "the killed gateway process to exit");
    first.child.kill("SIGKILL");
    stop = true;
    await Promise.all(reporters);
    await exited;

    const second = await spawnGateway(env);
    try {
      const stored = new Set(await storedSteps(second.url, "fault-kill", job.jobId));
      expect(acknowledged.filter((step) => !stored.has(step))).toEqual([]);
      // A dashboard that was watching resumes from scratch and gets every stored point, in step order.
      const resumed = collect(
        wsClient(second.url, await signDevToken(TEST_JWT_SECRET, "fault-kill", 3600)),
        METRICS,
        { jobId: job.jobId, afterStep: -1 },
        (d) => (d.trainingMetrics as { step: number }).step,
      );
      const all = [...stored].sort((a, b) => a - b);
      await resumed.until((values) => values.length >= all.length);
      expect(resumed.values).toEqual(all);
      resumed.dispose();
    } finally {
      second.child.kill("SIGKILL");
    }
  }, 120_000);

  if (usingPostgres()) {
    it("keeps every point through ten seconds without PostgreSQL: 503 while it is gone, all stored and delivered after", async () => {
      const database = await freshDatabase();
      const target = new URL(database.databaseUrl!);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const viaProxy = new URL(database.databaseUrl!);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const gateway = await spawnGateway({
        PORT: String(await freePort()),
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "traingate-fault-")),
        DATABASE_URL: viaProxy.toString(),
        REDIS_URL: process.env.REDIS_URL ?? "",
      });
      try {
        const job = await deployJob(gateway.url, "fault-pg");
        const watcher = collect(
          wsClient(gateway.url, await signDevToken(TEST_JWT_SECRET, "fault-pg", 3600)),
          METRICS,
          { jobId: job.jobId, afterStep: -1 },
          (d) => (d.trainingMetrics as { step: number }).step,
        );
        // One reporter, in step order, retrying a batch until it is acknowledged (as metrics_reporter.py does).
        const statuses = new Map<number, number>();
        let next = 0;
        const sendUntil = async (lastStep: number) => {
          while (next <= lastStep) {
            const steps = Array.from({ length: 5 }, (_, i) => next + i);
            const status = await postBatch(gateway.url, job, steps);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status === 200) next += 5;
            else await new Promise((resolve) => setTimeout(resolve, 200));
          }
        };
        await sendUntil(99);
        proxy.cut();
        const outage = new Promise((resolve) => setTimeout(resolve, 10_000));
        const during = sendUntil(199);
        await outage;
        proxy.restore();
        await during;
        await sendUntil(299);
        expect(statuses.get(503)).toBeGreaterThan(0);
        expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
        const expected = Array.from({ length: 300 }, (_, i) => i);
        expect(await storedSteps(gateway.url, "fault-pg", job.jobId)).toEqual(expected);
        await watcher.until((values) => values.length >= 300, 30_000);
        expect(watcher.values).toEqual(expected);
        watcher.dispose();
      } finally {
        gateway.child.kill("SIGKILL");
        await proxy.close();
      }
    }, 120_000);
  }
});
