import type { Client } from "graphql-ws";
import { startSimulatedGateway, type SimulatedSetup } from "./support/simulated";
import { collect, wsClient, type Collected } from "./support/ws";
import { eventually } from "./support/eventually";
import { freshDatabase, usingPostgres } from "./support/database";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

/**
 * Training-health alerts end to end: a real gateway over the RunPod simulator, its pods' trainer played by the
 * test (metrics and status posted with the job token, as a pod does), alerts read over graphql-ws. The pod
 * supervisor is driven by hand on a clock the test moves, so a pod can go quiet for half an hour in a moment.
 */

const DEPLOY = `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id podId job { id } } }`;
const ALERTS = `subscription($id: ID) { trainingAlerts(deploymentId: $id) { kind step message action at deployment { id status } } }`;
const DEPLOYMENT = `query($id: ID!) { deployment(id: $id) { status stopReason errorMessage } }`;

interface Alert {
  kind: string;
  step: number | null;
  message: string;
  action: string | null;
  at: string;
  deployment: { id: string; status: string };
}

interface Run {
  id: string;
  podId: string;
  jobId: string;
  jobToken: string;
}

let s: SimulatedSetup;
/** The pod supervisor's clock: real time plus what a test skipped. */
let skippedMs = 0;
const clients: Client[] = [];

beforeAll(async () => {
  s = await startSimulatedGateway({ supervisor: { now: () => new Date(Date.now() + skippedMs) } });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
});
afterAll(() => s.close());

/** A deployment of `user` whose trainer has posted its first point (step 0): RUNNING. */
async function runningDeployment(user: string, input: Record<string, unknown> = {}): Promise<Run> {
  await s.withRunpodKey(user);
  const configId = await s.newConfig(user);
  s.sim.clearRequests();
  const res = await s.t.gql<{ deployTraining: { id: string; podId: string; job: { id: string } } }>(
    user,
    DEPLOY,
    { input: { trainingConfigId: configId, gpuType: "RTX_A4000", ...input } },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  const create = s.sim.requests.find((r) => r.fields.includes("podFindAndDeployOnDemand"));
  const env = (create!.variables as { input: { env: { key: string; value: string }[] } }).input.env;
  const { id, podId, job } = res.data.deployTraining;
  const run = { id, podId, jobId: job.id, jobToken: env.find((e) => e.key === "JOB_TOKEN")!.value };
  expect(await postMetrics(run, [{ step: 0, loss: 2 }])).toMatchObject({ status: 200 });
  expect(await deploymentOf(user, id)).toMatchObject({ status: "RUNNING" });
  return run;
}

/** POSTs points to the metrics route as the pod does (to this suite's gateway, or to `url`). */
async function postMetrics(
  run: Pick<Run, "jobId" | "jobToken">,
  points: Record<string, unknown>[],
  url = s.t.url,
) {
  const res = await fetch(`${url}/api/training/jobs/${run.jobId}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${run.jobToken}` },
    body: JSON.stringify({ metrics: points }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function postStatus(run: Run, body: Record<string, unknown>) {
  const res = await fetch(`${s.t.url}/api/training/jobs/${run.jobId}/status`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${run.jobToken}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function deploymentOf(user: string, id: string) {
  const res = await s.t.gql<{
    deployment: { status: string; stopReason: string | null; errorMessage: string };
  }>(user, DEPLOYMENT, { id });
  return res.data!.deployment;
}

/** The stored alerts of a deployment, by kind. */
async function storedAlerts(deploymentId: string): Promise<string[]> {
  const rows = await s.t.gateway.db.dataSource.query<{ kind: string }[]>(
    `SELECT kind FROM training_alerts WHERE deployment_id = $1 ORDER BY kind`,
    [deploymentId],
  );
  return rows.map((row) => row.kind);
}

/** `user`'s trainingAlerts subscription (of one deployment, or all), live once the server holds it. */
async function subscribe(user: string, deploymentId?: string): Promise<Collected<Alert>> {
  const client = wsClient(s.t.url, await s.t.token(user));
  clients.push(client);
  const before = s.t.gateway.services.subscriptions.open;
  const alerts = collect(
    client,
    ALERTS,
    { id: deploymentId ?? null },
    (data) => data.trainingAlerts as Alert,
  );
  await eventually(
    () => Promise.resolve(s.t.gateway.services.subscriptions.open > before),
    "the alert subscription",
  );
  return alerts;
}

describe("a NaN loss", () => {
  it("is stored as null and marked, alerts once with STOPPING, and the run stops through the trainer's graceful stop", async () => {
    const run = await runningDeployment("nan-a");
    const alerts = await subscribe("nan-a", run.id);

    // The trainer sends NaN as the contract says (JSON has none): the answer already asks it to stop.
    expect(await postMetrics(run, [{ step: 1, loss: "NaN", grad_norm: "Infinity" }])).toEqual({
      status: 200,
      body: { status: "ok", accepted: 1, stop: true },
    });
    const [alert] = await alerts.until((v) => v.length >= 1);
    expect(alert).toMatchObject({
      kind: "LOSS_NAN",
      step: 1,
      action: "STOPPING",
      deployment: { id: run.id },
    });
    expect(alert.message).toMatch(/NaN or infinite at step 1/);

    // A second NaN raises nothing more: once per condition per run.
    expect(await postMetrics(run, [{ step: 2, loss: "-Infinity" }])).toMatchObject({ body: { stop: true } });
    expect(await storedAlerts(run.id)).toEqual(["LOSS_NAN"]);

    const metrics = await s.t.gql<{ trainingJob: { metrics: Record<string, unknown>[] } }>(
      "nan-a",
      `query($id: ID!) { trainingJob(id: $id) { metrics { step loss gradNorm nonFinite } } }`,
      { id: run.jobId },
    );
    expect(metrics.data!.trainingJob.metrics).toEqual([
      { step: 0, loss: 2, gradNorm: null, nonFinite: false },
      { step: 1, loss: null, gradNorm: null, nonFinite: true },
      { step: 2, loss: null, gradNorm: null, nonFinite: true },
    ]);

    // The trainer heard the flag, saved a checkpoint and reported its stop.
    expect(await postStatus(run, { status: "stopped" })).toMatchObject({ status: 200 });
    expect(await deploymentOf("nan-a", run.id)).toMatchObject({ status: "STOPPED", stopReason: "FAILED" });
    expect(alerts.values).toHaveLength(1);
  });

  it("stops a trainer that ignores the stop flag by terminating its pod 5 minutes later", async () => {
    const run = await runningDeployment("nan-deaf");
    expect(await postMetrics(run, [{ step: 1, loss: "NaN" }])).toMatchObject({ body: { stop: true } });
    try {
      skippedMs = 4 * 60_000;
      await s.t.gateway.services.supervisor.tick();
      expect(s.sim.pod(run.podId)?.desiredStatus).not.toBe("TERMINATED");
      skippedMs = 6 * 60_000;
      await s.t.gateway.services.supervisor.tick();
      expect(s.sim.pod(run.podId)?.desiredStatus).toBe("TERMINATED");
      const stopped = await deploymentOf("nan-deaf", run.id);
      expect(stopped).toMatchObject({ status: "STOPPED", stopReason: "FAILED" });
      expect(stopped.errorMessage).toMatch(/did not stop within 5 minutes/);
    } finally {
      skippedMs = 0;
    }
  });

  it("with stopOnNaN false alerts (NOTIFIED) and lets the run go on", async () => {
    const run = await runningDeployment("nan-b", { health: { stopOnNaN: false } });
    const alerts = await subscribe("nan-b");
    expect(await postMetrics(run, [{ step: 1, loss: "NaN" }])).toMatchObject({ body: { stop: false } });
    const [alert] = await alerts.until((v) => v.length >= 1);
    expect(alert).toMatchObject({ kind: "LOSS_NAN", action: "NOTIFIED" });
    expect(await postMetrics(run, [{ step: 2, loss: 1.9 }])).toMatchObject({ body: { stop: false } });
    expect(await deploymentOf("nan-b", run.id)).toMatchObject({ status: "RUNNING", stopReason: null });
  });
});

describe("the metric stream's other rules", () => {
  it("a loss over 3x the running median raises LOSS_SPIKE once", async () => {
    const run = await runningDeployment("spike-a");
    const alerts = await subscribe("spike-a", run.id);
    const steady = Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: 2 - i * 0.01 }));
    await postMetrics(run, steady);
    expect(await storedAlerts(run.id)).toEqual([]);
    await postMetrics(run, [{ step: 11, loss: 9.5 }]);
    const [alert] = await alerts.until((v) => v.length >= 1);
    expect(alert).toMatchObject({ kind: "LOSS_SPIKE", step: 11, action: "NOTIFIED" });
    await postMetrics(run, [{ step: 12, loss: 12 }]);
    expect(await storedAlerts(run.id)).toEqual(["LOSS_SPIKE"]);
    expect(await deploymentOf("spike-a", run.id)).toMatchObject({ status: "RUNNING" });
  });

  it("GPU memory within 2 % of the card for 3 points raises GPU_MEMORY_HIGH", async () => {
    // An RTX A4000 has 16 GB: 15.5 is under 98 % of it, 15.8 over.
    const run = await runningDeployment("gpu-a");
    const alerts = await subscribe("gpu-a", run.id);
    const at = (step: number, gb: number) => ({ step, loss: 2, gpu_memory_reserved_gb: gb });
    await postMetrics(run, [at(1, 15.8), at(2, 15.8), at(3, 15.5), at(4, 15.8)]);
    expect(await storedAlerts(run.id)).toEqual([]);
    await postMetrics(run, [at(5, 15.9)]);
    await postMetrics(run, [at(6, 15.9)]);
    const [alert] = await alerts.until((v) => v.length >= 1);
    expect(alert).toMatchObject({ kind: "GPU_MEMORY_HIGH", step: 6, action: "NOTIFIED" });
    expect(alert.message).toMatch(/of 16 GB/);
  });

  it("the trainer's out-of-memory failure raises OUT_OF_MEMORY; another failure raises nothing", async () => {
    const run = await runningDeployment("oom-a");
    const alerts = await subscribe("oom-a", run.id);
    const message =
      "Traceback (most recent call last):\n  ...\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB";
    expect(await postStatus(run, { status: "failed", message })).toMatchObject({ status: 200 });
    const [alert] = await alerts.until((v) => v.length >= 1);
    expect(alert).toMatchObject({ kind: "OUT_OF_MEMORY", step: null, action: null });
    expect(alert.message).toMatch(/CUDA out of memory/);
    expect(await deploymentOf("oom-a", run.id)).toMatchObject({ status: "FAILED" });

    const other = await runningDeployment("oom-a");
    await postStatus(other, { status: "failed", message: "ValueError: the dataset has no 'text' column" });
    expect(await storedAlerts(other.id)).toEqual([]);
  });
});

describe("a pod that stops posting", () => {
  it("is alerted at 10 minutes and stopped (pod terminated) after its stall window", async () => {
    const run = await runningDeployment("stall-a", { health: { stopAfterStallMinutes: 15 } });
    const alerts = await subscribe("stall-a", run.id);
    const supervisor = s.t.gateway.services.supervisor;
    try {
      skippedMs = 5 * 60_000;
      await supervisor.tick();
      expect(await storedAlerts(run.id)).toEqual([]);

      skippedMs = 11 * 60_000;
      await supervisor.tick();
      const [alert] = await alerts.until((v) => v.length >= 1);
      expect(alert).toMatchObject({ kind: "STALLED", step: null, action: "NOTIFIED" });
      expect(s.sim.pod(run.podId)?.desiredStatus).not.toBe("TERMINATED");

      skippedMs = 16 * 60_000;
      const report = await supervisor.tick();
      expect(report.healthStops).toBe(1);
      expect(s.sim.pod(run.podId)?.desiredStatus).toBe("TERMINATED");
      const stopped = await deploymentOf("stall-a", run.id);
      expect(stopped).toMatchObject({ status: "STOPPED", stopReason: "FAILED" });
      expect(stopped.errorMessage).toMatch(/no metric for 16 minutes/);
      // Once per condition per run: the stop raised no second STALLED.
      expect(await storedAlerts(run.id)).toEqual(["STALLED"]);
      expect(alerts.values).toHaveLength(1);
    } finally {
      skippedMs = 0;
    }
  });

  it("a window shorter than 10 minutes alerts and stops at once (STOPPING)", async () => {
    const run = await runningDeployment("stall-b", { health: { stopAfterStallMinutes: 3 } });
    const alerts = await subscribe("stall-b", run.id);
    try {
      skippedMs = 4 * 60_000;
      await s.t.gateway.services.supervisor.tick();
      const [alert] = await alerts.until((v) => v.length >= 1);
      expect(alert).toMatchObject({ kind: "STALLED", action: "STOPPING" });
      expect(s.sim.pod(run.podId)?.desiredStatus).toBe("TERMINATED");
    } finally {
      skippedMs = 0;
    }
  });
});

describe("who sees what", () => {
  it("another user's deploymentId answers NOT_FOUND, and their alerts never reach a bystander", async () => {
    const run = await runningDeployment("owner-a");
    const bystander = await subscribe("bystander-a");
    const client = wsClient(s.t.url, await s.t.token("bystander-a"));
    clients.push(client);
    const foreign = collect(client, ALERTS, { id: run.id }, (data) => data.trainingAlerts as Alert);
    await foreign.ended;
    const codes = (foreign.errors as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code);
    expect(codes).toEqual(["NOT_FOUND"]);

    const owner = await subscribe("owner-a");
    await postMetrics(run, [{ step: 1, loss: "NaN" }]);
    await owner.until((v) => v.length >= 1);
    expect(foreign.values).toEqual([]);
    expect(bystander.values).toEqual([]);
  });

  it("refuses bad health actions with BAD_USER_INPUT naming the field", async () => {
    await s.withRunpodKey("health-bad");
    const configId = await s.newConfig("health-bad");
    const res = await s.t.gql("health-bad", DEPLOY, {
      input: { trainingConfigId: configId, health: { stopAfterStallMinutes: -1 } },
    });
    expect(res.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.health.stopAfterStallMinutes",
    });
  });
});

describe("once per condition per run", () => {
  it(
    usingPostgres()
      ? "holds across two replicas on one database"
      : "holds across a restart (embedded mode has one replica)",
    async () => {
      const shared = await freshDatabase();
      const gateways: TestGateway[] = [];
      try {
        const a = await startTestGateway({ database: shared });
        gateways.push(a);
        const rows = await newDeployment(a.gateway.db.dataSource, "replica-nan", { stopOnNaN: false });
        const run = { jobId: rows.job.id, jobToken: rows.jobToken };
        expect(await postMetrics(run, [{ step: 1, loss: "NaN" }], a.url)).toMatchObject({ status: 200 });
        if (!usingPostgres()) await gateways.pop()!.close();
        const b = await startTestGateway({ database: shared });
        gateways.push(b);
        expect(await postMetrics(run, [{ step: 2, loss: "NaN" }], b.url)).toMatchObject({ status: 200 });
        const stored = await b.gateway.db.dataSource.query<{ kind: string; step: number }[]>(
          `SELECT kind, step FROM training_alerts WHERE deployment_id = $1`,
          [rows.deployment.id],
        );
        expect(stored).toEqual([{ kind: "LOSS_NAN", step: 1 }]);
      } finally {
        for (const gateway of gateways) await gateway.close();
        await shared.drop();
      }
    },
  );
});
