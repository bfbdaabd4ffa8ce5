import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import { Readable } from "node:stream";
import path from "node:path";
import { signDevToken } from "../src/auth/jwt";
import { Deployment } from "../src/deployments/deployment.entity";
import { JobStatus } from "../src/jobs/training-job.enums";
import { createSupervisionModule } from "../src/supervision/supervision.module";
import { CloudType, GpuType } from "../src/runpod/gpu-catalogue";
import { dropTestDatabases, freshDatabase, usingPostgres } from "./support/database";
import {
  CLOSED_HUB_ENDPOINT,
  TEST_ENCRYPTION_KEY,
  TEST_JWT_SECRET,
  startTestGateway,
} from "./support/gateway";
import { freePort, startSimulatedGateway, supervisorOf, type SimulatedSetup } from "./support/simulated";
import { startRunpodSimulator, type RunpodSimulator } from "../src/runpod-sim/runpod-simulator";
import { tarBuffer } from "../src/trainer/tar";

const DEPLOY = `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id podId status } }`;
const STATUS = `query($id: ID!) { deployment(id: $id) { status stopReason errorMessage job { status } } }`;
type Status = {
  deployment: {
    status: string;
    stopReason: string | null;
    errorMessage: string | null;
    job: { status: string };
  };
};

const spec = (name: string) => ({
  name,
  gpuType: GpuType.RTX_A4000,
  gpuCount: 1,
  cloudType: CloudType.SECURE,
  imageName: "runpod/base:1.0.2",
  dockerArgs: "sleep infinity",
  env: {},
  volumeInGb: 10,
  containerDiskInGb: 10,
});

describe("the pod supervisor: status sync and orphan reaper", () => {
  let s: SimulatedSetup;
  beforeAll(async () => {
    s = await startSimulatedGateway();
  });
  afterAll(() => s.close());

  async function deployed(user: string, output?: Record<string, unknown>) {
    const apiKey = await s.withRunpodKey(user);
    const configId = await s.newConfig(user);
    const res = await s.t.gql<{ deployTraining: { id: string; podId: string } }>(user, DEPLOY, {
      input: { trainingConfigId: configId, ...(output ? { output } : {}) },
    });
    return { apiKey, ...res.data!.deployTraining };
  }
  const statusOf = async (user: string, id: string) =>
    (await s.t.gql<Status>(user, STATUS, { id })).data!.deployment;

  it("follows the pod: RUNNING once the container is up, cost accrued as RunPod bills it", async () => {
    const d = await deployed("sync-run");
    s.sim.advance(3600);
    await s.t.gateway.services.supervisor.tick();
    expect(await statusOf("sync-run", d.id)).toMatchObject({ status: "RUNNING" });
    const row = await s.t.gateway.services.deploymentQueries.get("sync-run", d.id);
    const simulated = s.sim.pod(d.podId)!;
    // The GPU part matches what the simulator billed, to the cent; disk storage comes on top.
    expect(row.gpuPriceSeconds / 3600 / 1e6).toBeCloseTo(simulated.accruedCostUsd, 2);
    expect(row.actualCostMicros).toBeGreaterThan(row.gpuPriceSeconds / 3600);
  });

  it("lists each account's pods once per run, however many of its deployments it looks after", async () => {
    await s.withRunpodKey("sync-once");
    const configId = await s.newConfig("sync-once");
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await s.t.gql<{ deployTraining: { id: string } }>("sync-once", DEPLOY, {
        input: { trainingConfigId: configId },
      });
      ids.push(res.data!.deployTraining.id);
    }
    s.sim.advance(600);
    s.sim.clearRequests();
    const report = await s.t.gateway.services.supervisor.tick();
    // One listing per account looked at: the status sync and the budget read the same one.
    const lists = s.sim.requests.filter((r) => r.operationName === "ListPods");
    expect(report.users).toBeGreaterThanOrEqual(1);
    expect(lists).toHaveLength(report.users);
    expect(report.observed).toBeGreaterThanOrEqual(3);
    for (const id of ids) {
      expect(await statusOf("sync-once", id)).toMatchObject({ status: "RUNNING" });
      const row = await s.t.gateway.services.deploymentQueries.get("sync-once", id);
      expect(row.actualCostMicros).toBeGreaterThan(0);
    }
  });

  it("never writes a look over a change made after it was read: a stopped run stays stopped, its cost kept", async () => {
    const d = await deployed("sync-stale");
    s.sim.advance(600);
    await s.t.gateway.services.supervisor.tick();
    const { services, runpod } = s.t.gateway;
    const read = await services.deploymentQueries.get("sync-stale", d.id);
    const pod = await runpod.getPod(d.apiKey, d.podId);
    // The user stops the run between the supervisor's read and its write.
    await s.t.gql("sync-stale", `mutation($id: ID!) { stopDeployment(id: $id) { status } }`, { id: d.id });
    const stopped = await services.deploymentQueries.get("sync-stale", d.id);
    s.sim.advance(3600);
    const result = await services.deployments.accrueMany([
      { deployment: read, jobStatus: JobStatus.RUNNING, pod },
    ]);
    expect(result.accrued).toEqual([]);
    const after = await services.deploymentQueries.get("sync-stale", d.id);
    expect(after.status).toBe("STOPPED");
    expect(after.actualCostMicros).toBe(stopped.actualCostMicros);
    expect(after.lastObservedAt).toEqual(stopped.lastObservedAt);
  });

  it("looks after every deployment of an account that holds more than one page of them", async () => {
    await s.withRunpodKey("sync-many");
    const configId = await s.newConfig("sync-many");
    const ids: string[] = [];
    for (let i = 0; i < 205; i += 1) {
      const res = await s.t.gql<{ deployTraining: { id: string } }>("sync-many", DEPLOY, {
        input: { trainingConfigId: configId, budgetLimitUsd: 1000 },
      });
      expect(res.errors).toBeUndefined();
      ids.push(res.data!.deployTraining.id);
    }
    s.sim.advance(600);
    await s.t.gateway.services.supervisor.tick();
    const { db } = s.t.gateway;
    const rows = await db.dataSource.query<{ status: string; actual_cost: string }[]>(
      `SELECT status, actual_cost FROM cloud_deployments WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(205);
    expect(rows.filter((r) => r.status === "RUNNING" && Number(r.actual_cost) > 0)).toHaveLength(205);
  }, 120_000);

  it("runs as one background task of the supervision module", async () => {
    const { db, runpod, bus, logger, services } = s.t.gateway;
    const supervision = createSupervisionModule({
      db: db.dataSource,
      runpod,
      secrets: services.secrets,
      deployments: services.deployments,
      deploymentQueries: services.deploymentQueries,
      bus,
      streams: services.subscriptions,
      logger,
      options: { intervalMs: 1_000 },
    });
    expect(supervision.background?.map((task) => task.intervalMs)).toEqual([1_000]);
    const d = await deployed("sync-module");
    s.sim.advance(3600);
    await supervision.background![0].run();
    expect(await statusOf("sync-module", d.id)).toMatchObject({ status: "RUNNING" });
  });

  it("closes a deployment whose pod vanished, with its last known cost", async () => {
    const d = await deployed("sync-gone");
    s.sim.advance(120);
    await s.t.gateway.services.supervisor.tick();
    const costBefore = (await s.t.gateway.services.deploymentQueries.get("sync-gone", d.id)).actualCostMicros;
    s.sim.selfTerminate(d.podId);
    await s.t.gateway.services.supervisor.tick();
    const after = await statusOf("sync-gone", d.id);
    expect(after).toMatchObject({ status: "FAILED", stopReason: "FAILED", job: { status: "FAILED" } });
    expect(after.errorMessage).toMatch(/gone upstream/);
    const row = await s.t.gateway.services.deploymentQueries.get("sync-gone", d.id);
    expect(row.actualCostMicros).toBeGreaterThanOrEqual(costBefore);
    expect(row.podTerminatedAt).not.toBeNull();
  });

  it("terminates traingate pods nothing owns and leaves other pods alone", async () => {
    const { apiKey } = await deployed("sync-orphans");
    const stray = await s.t.gateway.runpod.createPod(apiKey, spec(`traingate-${randomUUID()}`));
    const mine = await s.t.gateway.runpod.createPod(apiKey, spec("my-notebook"));
    const report = await s.t.gateway.services.supervisor.tick();
    expect(report.orphansTerminated).toBeGreaterThanOrEqual(1);
    expect(s.sim.pod(stray.id)?.desiredStatus).toBe("TERMINATED");
    expect(s.sim.pod(mine.id)?.desiredStatus).toBe("RUNNING");
  });

  it("does not touch another TrainGate user's pod in a shared RunPod account", async () => {
    const owner = await deployed("sync-shared-a");
    // A second user stores the same RunPod key.
    await s.t.gql(
      "sync-shared-b",
      `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
      {
        k: owner.apiKey,
      },
    );
    await s.t.gateway.services.supervisor.tick();
    expect(s.sim.pod(owner.podId)?.desiredStatus).toBe("RUNNING");
  });

  it("keeps the stopped pod of a completed run that asked to keep its disk, and stops one left running", async () => {
    const kept = await deployed("sync-kept", { onComplete: "STOP" });
    const deployments = s.t.gateway.services.deployments;
    await deployments.signal(kept.id, { type: "JOB_REPORTED", status: "completed" });
    await s.t.gateway.runpod.stopPod(kept.apiKey, kept.podId);
    await s.t.gateway.services.supervisor.tick();
    expect(s.sim.pod(kept.podId)?.desiredStatus).toBe("EXITED");

    const lingering = await deployed("sync-linger", { onComplete: "STOP" });
    await deployments.signal(lingering.id, { type: "JOB_REPORTED", status: "completed" });
    const later = supervisorOf(s, { now: () => new Date(Date.now() + 11 * 60_000) });
    await later.tick();
    // Its disk holds the result (onComplete STOP): stopped, not destroyed.
    expect(s.sim.pod(lingering.podId)?.desiredStatus).toBe("EXITED");
    expect(s.sim.pod(kept.podId)?.desiredStatus).toBe("EXITED");
  });

  it("terminates a finished run's pod stopped from outside once its result is stored at the gateway, not before", async () => {
    const deployments = s.t.gateway.services.deployments;
    const rows = s.t.gateway.db.dataSource.getRepository(Deployment);
    const tar = await tarBuffer([{ name: "adapter_config.json", content: Buffer.from('{"r":8}') }]);
    const store = async (id: string) => {
      const { jobId, userId } = await rows.findOneByOrFail({ id });
      const sha256 = createHash("sha256").update(tar).digest("hex");
      await s.t.gateway.services.artifacts.upload(
        { jobId, userId },
        { first: 0, last: tar.length - 1, total: tar.length, sha256 },
        Readable.from([tar]),
      );
    };
    // Stopped on RunPod itself (podStop: the console), the run reported stopped (onComplete TERMINATE, the default).
    const d = await deployed("sync-podstop");
    const kept = await deployed("sync-podstop-kept", { onComplete: "STOP" });
    for (const one of [d, kept]) {
      await s.t.gateway.runpod.stopPod(one.apiKey, one.podId);
      await deployments.signal(one.id, { type: "JOB_REPORTED", status: "stopped" });
    }
    await supervisorOf(s, {}).tick();
    // Its result is on its disk only: kept, though the volume bills.
    expect(s.sim.pod(d.podId)?.desiredStatus).toBe("EXITED");

    await store(d.id);
    await store(kept.id);
    // A fresh supervisor: its first pass sweeps the accounts with nothing active (SYNC_INTERVAL_MS after that).
    await supervisorOf(s, {}).tick();
    expect(s.sim.pod(d.podId)?.desiredStatus).toBe("TERMINATED");
    const ended = await rows.findOneByOrFail({ id: d.id });
    expect(ended.podTerminatedAt).not.toBeNull();
    expect(await statusOf("sync-podstop", d.id)).toMatchObject({ status: "STOPPED" });
    // A run that asked to keep its pod (onComplete STOP) keeps it, result stored or not.
    expect(s.sim.pod(kept.podId)?.desiredStatus).toBe("EXITED");
  });

  it("fails a run whose container never starts, terminating its pod after the start-up deadline", async () => {
    s.sim.faults.containerNeverStarts();
    let d: Awaited<ReturnType<typeof deployed>>;
    try {
      d = await deployed("sync-nostart");
    } finally {
      s.sim.faults.reset();
    }
    const healthy = await deployed("sync-started");
    s.sim.advance(3600); // an hour of RunPod time: any image would be pulled and up by now
    await s.t.gateway.services.supervisor.tick();
    // Within the deadline: still waiting, pod untouched.
    expect(await statusOf("sync-nostart", d.id)).toMatchObject({
      status: "STARTING",
      job: { status: "PENDING" },
    });
    expect(s.sim.pod(d.podId)?.desiredStatus).toBe("RUNNING");

    const later = supervisorOf(s, {
      podStartTimeoutMs: 15 * 60_000,
      now: () => new Date(Date.now() + 16 * 60_000),
    });
    await later.tick();
    const failed = await statusOf("sync-nostart", d.id);
    expect(failed).toMatchObject({ status: "FAILED", stopReason: "FAILED", job: { status: "FAILED" } });
    expect(failed.errorMessage).toMatch(/container never started.*15 minutes.*CUDA driver/);
    expect(s.sim.pod(d.podId)?.desiredStatus).toBe("TERMINATED");
    // A pod whose container came up is left alone, however old.
    expect(await statusOf("sync-started", healthy.id)).toMatchObject({ status: "RUNNING" });
    expect(s.sim.pod(healthy.podId)?.desiredStatus).toBe("RUNNING");
  });

  it("finishes a user's stop whose terminate call failed", async () => {
    const d = await deployed("sync-stopfail");
    s.sim.faults.failNext(20, { field: "podTerminate", status: 503 });
    const res = await s.t.gql("sync-stopfail", `mutation($id: ID!) { stopDeployment(id: $id) { status } }`, {
      id: d.id,
    });
    expect(res.errors?.[0].extensions?.code).toBe("UPSTREAM_UNAVAILABLE");
    s.sim.faults.reset();
    await s.t.gateway.services.supervisor.tick();
    expect(await statusOf("sync-stopfail", d.id)).toMatchObject({ status: "STOPPED", stopReason: "USER" });
    expect(s.sim.pod(d.podId)?.desiredStatus).toBe("TERMINATED");
  });
});

describe("a gateway killed between pod creation and the database update", () => {
  let child: ChildProcess | undefined;
  let sim: RunpodSimulator | undefined;
  afterEach(async () => {
    child?.kill("SIGKILL");
    await sim?.close();
    await dropTestDatabases();
  });

  it("leaves a pod that the reaper terminates on the next start", async () => {
    const simulator = await startRunpodSimulator({ trainer: false, autoAccountPrefix: null });
    sim = simulator;
    const { apiKey } = simulator.addAccount();
    const database = await freshDatabase();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "traingate-crash-"));
    const port = await freePort();
    const env = {
      ...process.env,
      NODE_ENV: "test",
      PORT: String(port),
      JWT_SECRET: TEST_JWT_SECRET,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      RUNPOD_API_URL: simulator.url,
      RUNPOD_API_SIMULATED: "true",
      HF_ENDPOINT: CLOSED_HUB_ENDPOINT,
      DATA_DIR: dataDir,
      REDIS_URL: "",
      DATABASE_URL: database.databaseUrl ?? "",
    };
    child = spawn(
      process.execPath,
      [
        "-r",
        path.join(__dirname, "support/register-ts.js"),
        path.join(__dirname, "support/gateway-process.ts"),
      ],
      {
        env,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /ready (\S+)/.exec(out);
        if (match) resolve(match[1]);
      });
      child!.once("exit", (code) => reject(new Error(`gateway process exited with ${code}`)));
    });

    const token = await signDevToken(TEST_JWT_SECRET, "crash-user", 3600);
    const gql = (query: string, variables?: unknown) =>
      fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      }).then((r) => r.json() as Promise<{ data?: Record<string, { id: string }> }>);
    await gql(
      `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
      { k: apiKey },
    );
    const config = await gql(
      `mutation { createTrainingConfig(input: { name: "c", modelName: "gpt2", datasetUrl: "https://example.com/d.jsonl" }) { id } }`,
    );

    // RunPod takes its time to answer this create; the gateway dies while it waits for the answer.
    simulator.faults.delay(2000, { count: 1, field: "podFindAndDeployOnDemand" });
    void gql(DEPLOY, { input: { trainingConfigId: config.data!.createTrainingConfig.id } }).catch(
      () => undefined,
    );
    await simulator.waitFor(() => simulator.delayedRequests > 0, {
      timeoutMs: 10_000,
      what: "the create call",
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child!.once("exit", resolve));
    await simulator.waitFor(() => simulator.pods(apiKey).length === 1, {
      timeoutMs: 10_000,
      what: "the pod RunPod created anyway",
    });
    const [pod] = simulator.pods(apiKey);
    expect(pod.name).toMatch(/^traingate-/);
    expect(pod.desiredStatus).toBe("RUNNING");

    // The next start: its first reconcile finds the half-made deployment and terminates its pod.
    const next = await startTestGateway({
      database: usingPostgres() ? database : undefined,
      env: { RUNPOD_API_URL: simulator.url, DATA_DIR: dataDir, REDIS_URL: undefined },
      gatewayOptions: { supervisor: { orphanGraceMs: 0 } },
      useDataDir: !usingPostgres(),
    });
    try {
      await next.gateway.services.supervisor.tick();
      expect(simulator.pod(pod.id)?.desiredStatus).toBe("TERMINATED");
      const res = await next.gql<{
        deployments: { edges: { node: { status: string; stopReason: string; errorMessage: string } }[] };
      }>("crash-user", `{ deployments { edges { node { status stopReason errorMessage } } } }`);
      expect(res.data?.deployments.edges.map((e) => e.node)).toEqual([
        expect.objectContaining({ status: "STOPPED", stopReason: "ORPHANED" }),
      ]);
    } finally {
      await next.close();
    }
  });
});
