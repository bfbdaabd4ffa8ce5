import type { Client } from "graphql-ws";
import { startSimulatedGateway, supervisorOf, type SimulatedSetup } from "./support/simulated";
import { collect, wsClient } from "./support/ws";

/**
 * Deploys that wait for capacity, end to end against the simulator: with waitForCapacityMinutes a deploy that
 * finds no GPU stays QUEUED (no pod, no cost) and the supervisor, on a clock of its own, tries it again until
 * its wait is over.
 */
const DEPLOY = `mutation($input: DeployTrainingInput!) {
  deployTraining(input: $input) { id podId status queuedUntil actualCostUsd }
}`;
const STATUS = `query($id: ID!) {
  deployment(id: $id) { status podId stopReason errorMessage queuedUntil actualCostUsd job { status } }
}`;
const STOP = `mutation($id: ID!) { stopDeployment(id: $id) { status stopReason podId } }`;
const UPDATED = `subscription($id: ID) { deploymentUpdated(id: $id) { id status } }`;
const A4000 = "NVIDIA RTX A4000";

type Row = {
  status: string;
  podId: string | null;
  stopReason: string | null;
  errorMessage: string | null;
  queuedUntil: string | null;
  actualCostUsd: number;
  job: { status: string };
};

let s: SimulatedSetup;
const clients: Client[] = [];
beforeAll(async () => {
  s = await startSimulatedGateway();
});
afterAll(() => s.close());
afterEach(async () => {
  s.sim.faults.reset();
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
});

/** A supervisor of the same gateway that sees the time `minutes` from now. */
const supervisorAt = (minutes: number) =>
  supervisorOf(s, { now: () => new Date(Date.now() + minutes * 60_000) });

/** The pod creates asked of the simulator, of one deployment's pod when `deploymentId` is given. */
const creates = (deploymentId?: string) =>
  s.sim.requests.filter(
    (r) =>
      r.fields.includes("podFindAndDeployOnDemand") &&
      (deploymentId === undefined ||
        (r.variables as { input: { name: string } }).input.name.includes(deploymentId)),
  );

async function deploy(user: string, input: Record<string, unknown>) {
  const apiKey = await s.withRunpodKey(user);
  const configId = await s.newConfig(user);
  const res = await s.t.gql<{ deployTraining: Row & { id: string } }>(user, DEPLOY, {
    input: { trainingConfigId: configId, gpuType: "RTX_A4000", budgetLimitUsd: 1, ...input },
  });
  return { apiKey, res };
}

async function statusOf(user: string, id: string): Promise<Row> {
  const res = await s.t.gql<{ deployment: Row }>(user, STATUS, { id });
  return res.data!.deployment;
}

describe("deploys that wait for capacity", () => {
  it("queues with no pod and no cost, then starts when capacity returns, with deploymentUpdated events", async () => {
    s.sim.faults.noCapacity(A4000);
    const { apiKey, res } = await deploy("queue-a", { waitForCapacityMinutes: 30 });
    expect(res.errors).toBeUndefined();
    const queued = res.data!.deployTraining;
    expect(queued).toMatchObject({ status: "QUEUED", podId: null, actualCostUsd: 0 });
    const until = Date.parse(queued.queuedUntil!);
    expect(until - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(until - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    expect(s.sim.pods(apiKey)).toEqual([]);
    const costs = await s.t.gql<{
      costs: {
        totalUsd: number;
        activeBurnRateUsdPerHour: number;
        deployments: { costUsd: number; deployment: { id: string } }[];
      };
    }>(
      "queue-a",
      `{ costs { totalUsd activeBurnRateUsdPerHour deployments { costUsd deployment { id } } } }`,
    );
    expect(costs.errors).toBeUndefined();
    expect(costs.data!.costs).toMatchObject({ totalUsd: 0, activeBurnRateUsdPerHour: 0 });

    // Still no capacity a minute later: the retry asks again and it stays queued.
    const asked = creates().length;
    await supervisorAt(1).tick();
    expect(creates().length).toBeGreaterThan(asked);
    expect(await statusOf("queue-a", queued.id)).toMatchObject({
      status: "QUEUED",
      podId: null,
      actualCostUsd: 0,
    });

    const client = wsClient(s.t.url, await s.t.token("queue-a"));
    clients.push(client);
    const updates = collect(
      client,
      UPDATED,
      { id: queued.id },
      (d) => d.deploymentUpdated as { status: string },
    );
    s.sim.faults.restoreCapacity();
    // The next try is due 30 s doubled, with jitter, after the last: ten minutes on is past it.
    await supervisorAt(10).tick();
    const started = await statusOf("queue-a", queued.id);
    expect(started).toMatchObject({ status: "STARTING", queuedUntil: null });
    expect(s.sim.pods(apiKey).map((p) => p.id)).toEqual([started.podId]);
    s.sim.advance(3600);
    await supervisorAt(10).tick();
    await updates.until((values) => values.some((v) => v.status === "RUNNING"));
    expect(updates.values.map((v) => v.status)).toContain("STARTING");
    expect((await statusOf("queue-a", queued.id)).status).toBe("RUNNING");
    await s.t.gql("queue-a", STOP, { id: queued.id });
  });

  it("fails with GPU_UNAVAILABLE when the wait runs out first, having made no pod, with a webhook", async () => {
    const hook = await s.t.gql<{ createWebhook: { webhook: { id: string } } }>(
      "queue-b",
      `mutation { createWebhook(input: { url: "https://93.184.215.14/hook", events: [DEPLOYMENT_FAILED] }) { webhook { id } } }`,
    );
    expect(hook.errors).toBeUndefined();
    s.sim.faults.noCapacity(A4000);
    const { apiKey, res } = await deploy("queue-b", { waitForCapacityMinutes: 5 });
    const id = res.data!.deployTraining.id;
    await supervisorAt(2).tick();
    expect((await statusOf("queue-b", id)).status).toBe("QUEUED");
    await supervisorAt(6).tick();
    const failed = await statusOf("queue-b", id);
    expect(failed).toMatchObject({
      status: "FAILED",
      stopReason: "FAILED",
      podId: null,
      queuedUntil: null,
      actualCostUsd: 0,
      job: { status: "FAILED" },
    });
    expect(failed.errorMessage).toContain("GPU_UNAVAILABLE");
    expect(s.sim.pods(apiKey)).toEqual([]);
    const sent = await s.t.gateway.db.dataSource.query<{ event: string; id: string }[]>(
      `SELECT event, payload->'deployment'->>'id' AS id FROM webhook_outbox WHERE webhook_id = $1`,
      [hook.data!.createWebhook.webhook.id],
    );
    expect(sent).toEqual([{ event: "DEPLOYMENT_FAILED", id }]);
  });

  it("keeps today's immediate GPU_UNAVAILABLE with waitForCapacityMinutes 0", async () => {
    s.sim.faults.noCapacity(A4000);
    const { apiKey, res } = await deploy("queue-c", { waitForCapacityMinutes: 0 });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "GPU_UNAVAILABLE" });
    const id = res.errors?.[0].extensions?.deploymentId as string;
    expect((await statusOf("queue-c", id)).status).toBe("FAILED");
    expect(s.sim.pods(apiKey)).toEqual([]);
  });

  it.each([
    ["longer than a day", 1441],
    ["negative", -1],
  ])("refuses a wait %s, naming the field, and stores nothing", async (_name, minutes) => {
    const { res } = await deploy("queue-d", { waitForCapacityMinutes: minutes });
    expect(res.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.waitForCapacityMinutes",
    });
    const listed = await s.t.gql<{ deployments: { totalCount: number } }>(
      "queue-d",
      `{ deployments { totalCount } }`,
    );
    expect(listed.data?.deployments.totalCount).toBe(0);
  });

  it("stops a queued deployment with no call for a pod, and never tries it again", async () => {
    s.sim.faults.noCapacity(A4000);
    const { apiKey, res } = await deploy("queue-e", { waitForCapacityMinutes: 30 });
    const id = res.data!.deployTraining.id;
    s.sim.clearRequests();
    const stopped = await s.t.gql<{ stopDeployment: Row }>("queue-e", STOP, { id });
    expect(stopped.data!.stopDeployment).toMatchObject({
      status: "STOPPED",
      stopReason: "USER",
      podId: null,
    });
    expect(s.sim.requests.filter((r) => r.fields.includes("podTerminate"))).toEqual([]);
    s.sim.faults.restoreCapacity();
    await supervisorAt(10).tick();
    expect(creates(id)).toEqual([]);
    expect(s.sim.pods(apiKey)).toEqual([]);
    expect((await statusOf("queue-e", id)).status).toBe("STOPPED");
  });

  it("retries a create that failed with a transient upstream error, and makes one pod only", async () => {
    s.sim.faults.failNext(10, { field: "podFindAndDeployOnDemand", status: 503 });
    s.sim.clearRequests();
    const { apiKey, res } = await deploy("queue-f", { waitForCapacityMinutes: 30 });
    expect(res.errors).toBeUndefined();
    const id = res.data!.deployTraining.id;
    expect(res.data!.deployTraining).toMatchObject({ status: "QUEUED", podId: null });
    expect(s.sim.pods(apiKey)).toEqual([]);
    s.sim.faults.reset();
    await supervisorAt(10).tick();
    const started = await statusOf("queue-f", id);
    expect(started.status).toBe("STARTING");
    expect(s.sim.pods(apiKey).map((p) => p.id)).toEqual([started.podId]);
    await s.t.gql("queue-f", STOP, { id });
  });
});
