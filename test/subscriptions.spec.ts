import type { Client } from "graphql-ws";
import type { DataSource } from "typeorm";
import { DeploymentStatus } from "../src/deployments/deployment.enums";
import { freshDatabase, usingPostgres, usingRedis } from "./support/database";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { eventually } from "./support/eventually";
import { collect, wsClient, type Collected } from "./support/ws";

const METRICS = `subscription($jobId: ID!, $afterStep: Int) { trainingMetrics(jobId: $jobId, afterStep: $afterStep) { jobId step loss timestamp } }`;
type Point = { jobId: string; step: number; loss: number; timestamp: string };
const pickPoint = (data: Record<string, unknown>) => data.trainingMetrics as Point;

let t: TestGateway;
let db: DataSource;
const clients: Client[] = [];
beforeAll(async () => {
  t = await startTestGateway({ gatewayOptions: { metricsRoutes: { ratePerSecond: 10_000, burst: 10_000 } } });
  db = t.gateway.db.dataSource;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
});
afterAll(() => t.close());

async function client(user: string, url = t.url): Promise<Client> {
  const c = wsClient(url, await t.token(user));
  clients.push(c);
  return c;
}

function post(rows: DeploymentRows, steps: number[], url = t.url, extra: Record<string, unknown> = {}) {
  return fetch(`${url}/api/training/jobs/${rows.job.id}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ metrics: steps.map((step) => ({ step, loss: 3 - step / 1000, ...extra })) }),
  }).then((r) => {
    if (r.status !== 200) throw new Error(`POST answered ${r.status}`);
  });
}

/** The trainer reports `running` (again: a run resumed from its checkpoint). */
async function reportRunning(rows: DeploymentRows, url = t.url): Promise<void> {
  const res = await fetch(`${url}/api/training/jobs/${rows.job.id}/status`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ status: "running" }),
  });
  expect(res.status).toBe(200);
}

/**
 * Posts a fresh step until the subscription shows one: from then on it is live (graphql-ws announces no
 * "subscribed", so only a delivered point says so). Fails after `timeoutMs`.
 */
async function untilLive<T>(
  received: { values: T[] },
  send: (step: number) => Promise<void>,
  firstStep: number,
  timeoutMs = 15_000,
): Promise<number> {
  let step = firstStep;
  await eventually(
    async () => {
      if (received.values.length > 0) return true;
      await send(step++);
      return false;
    },
    "the subscription's first point",
    timeoutMs,
  );
  return step;
}

describe("trainingMetrics", () => {
  it("delivers live points, in step order, as they are posted", async () => {
    const rows = await newDeployment(db, "sub-live");
    const received = collect(await client("sub-live"), METRICS, { jobId: rows.job.id }, pickPoint);
    const next = await untilLive(received, (s) => post(rows, [s]), 1000);
    for (let s = next; s < next + 30; s += 3) await post(rows, [s, s + 1, s + 2]);
    const values = await received.until((v) => v.some((p) => p.step === next + 29));
    const steps = values.map((p) => p.step);
    expect(steps.slice(-30)).toEqual(Array.from({ length: 30 }, (_, i) => next + i));
    expect(values[0]).toMatchObject({ jobId: rows.job.id });
    expect(Date.parse(values[0].timestamp)).not.toBeNaN();
  });

  it("replays history after afterStep, then live points, with no gap and no duplicate at the seam", async () => {
    const rows = await newDeployment(db, "sub-seam");
    for (let s = 0; s < 2000; s += 500)
      await post(
        rows,
        Array.from({ length: 500 }, (_, i) => s + i),
      );
    // Points keep arriving while the replay runs: the seam must neither drop nor repeat them.
    let posting = true;
    let nextStep = 2000;
    const poster = (async () => {
      while (posting) {
        await post(rows, [nextStep, nextStep + 1]);
        nextStep += 2;
      }
    })();
    const received = collect(
      await client("sub-seam"),
      METRICS,
      { jobId: rows.job.id, afterStep: 99 },
      pickPoint,
    );
    await received.until((v) => v.length > 2000);
    posting = false;
    await poster;
    const last = nextStep - 1;
    const values = await received.until((v) => v.some((p) => p.step === last));
    const steps = values.map((p) => p.step);
    expect(steps).toEqual(Array.from({ length: last - 99 }, (_, i) => 100 + i));
  });

  it("delivers the steps a resumed run redoes once it reports running again, and no lower step before that", async () => {
    const rows = await newDeployment(db, "sub-resume");
    await post(rows, [1, 2, 3, 4, 5]);
    const received = collect(
      await client("sub-resume"),
      METRICS,
      { jobId: rows.job.id, afterStep: 0 },
      pickPoint,
    );
    await received.until((v) => v.length === 5);
    // A late resend of step 3 is stored, not delivered: the subscriber has seen step 5.
    await post(rows, [3], t.url, { loss: 0.75 });
    await post(rows, [6]);
    await received.until((v) => v.length === 6);
    expect(received.values.map((v) => v.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The run restarts from its checkpoint at step 2 and says so: its redone steps go out live.
    await reportRunning(rows);
    await post(rows, [3], t.url, { loss: 0.5 });
    const values = await received.until((v) => v.length === 7);
    expect(values.at(-1)).toMatchObject({ step: 3, loss: 0.5 });
  });

  it("refuses another user's job with NOT_FOUND and sends nothing of it", async () => {
    const rows = await newDeployment(db, "sub-owner");
    await post(rows, [1, 2]);
    const received = collect(
      await client("sub-intruder"),
      METRICS,
      { jobId: rows.job.id, afterStep: -1 },
      pickPoint,
    );
    await received.ended;
    expect(received.values).toEqual([]);
    expect(JSON.stringify(received.errors)).toContain("NOT_FOUND");
  });

  it("answers a burst of subscribes from many users, each with its own verdict", async () => {
    // A replica restart: every dashboard subscribes again at once. Ownership checks made together must not mix
    // their answers up: each user gets their own job's points, and NOT_FOUND for another's or for none.
    const owners = ["burst-a", "burst-b", "burst-c", "burst-d"];
    const rows = await Promise.all(owners.map((user) => newDeployment(db, user)));
    await Promise.all(rows.map((r) => post(r, [1, 2, 3])));
    const asked = owners.flatMap((user, i) => [
      { user, jobId: rows[i].job.id, mine: true },
      { user, jobId: rows[(i + 1) % owners.length].job.id, mine: false },
      { user, jobId: "00000000-0000-4000-8000-000000000000", mine: false },
    ]);
    const connections = new Map<string, Client>();
    for (const user of owners) connections.set(user, await client(user));
    const subs = [1, 2, 3, 4, 5].flatMap(() =>
      asked.map((a) => ({
        ...a,
        received: collect(connections.get(a.user)!, METRICS, { jobId: a.jobId, afterStep: 0 }, pickPoint),
      })),
    );
    for (const sub of subs) {
      if (sub.mine) {
        const values = await sub.received.until((v) => v.length >= 3);
        expect(values.map((p) => [p.jobId, p.step])).toEqual([1, 2, 3].map((step) => [sub.jobId, step]));
      } else {
        await sub.received.ended;
        expect(sub.received.values).toEqual([]);
        expect(JSON.stringify(sub.received.errors)).toContain("NOT_FOUND");
      }
    }
    for (const sub of subs) sub.received.dispose();
  });

  it("limits the subscriptions one user may hold", async () => {
    const limited = await startTestGateway({ gatewayOptions: { subscriptions: { maxPerUser: 2 } } });
    try {
      const rows = await newDeployment(limited.gateway.db.dataSource, "sub-many");
      const c = await client("sub-many", limited.url);
      const subs = [1, 2, 3].map(() => collect(c, METRICS, { jobId: rows.job.id, afterStep: -1 }, pickPoint));
      // The three start concurrently: whichever comes third is refused, the other two stay open.
      await Promise.race(subs.map((sub) => sub.ended));
      const refused = subs.filter((sub) => JSON.stringify(sub.errors).includes("RATE_LIMITED"));
      expect(refused).toHaveLength(1);
      await eventually(
        () => Promise.resolve(limited.gateway.services.subscriptions.open === 2),
        "two live subscriptions",
      );
    } finally {
      await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
      await limited.close();
    }
  });

  it("applies the same query limits over WebSocket as over HTTP", async () => {
    const deep = `subscription { deploymentUpdated { job { deployment { job { deployment { job { deployment { job { deployment { job { deployment { job { deployment { id } } } } } } } } } } } } } }`;
    const received = collect(await client("sub-deep"), deep, {}, (d) => d);
    await received.ended;
    expect(JSON.stringify(received.errors)).toContain("QUERY_TOO_COMPLEX");
  });
});

describe("deploymentUpdated", () => {
  const UPDATED = `subscription($id: ID) { deploymentUpdated(id: $id) { id status stopReason actualCostUsd } }`;
  type Update = { id: string; status: string; stopReason: string | null };
  const pick = (d: Record<string, unknown>) => d.deploymentUpdated as Update;

  it("sends one deployment's changes, and all of the caller's without an id, never another user's", async () => {
    const mine = await newDeployment(db, "upd-a", { status: DeploymentStatus.STARTING });
    const other = await newDeployment(db, "upd-a", { status: DeploymentStatus.STARTING });
    const foreign = await newDeployment(db, "upd-b", { status: DeploymentStatus.STARTING });
    const one = collect(await client("upd-a"), UPDATED, { id: mine.deployment.id }, pick);
    const all = collect(await client("upd-a"), UPDATED, {}, pick);
    const deployments = t.gateway.services.deployments;
    // Keep nudging until both subscriptions are live, then change things for real.
    await eventually(
      async () => {
        if (one.values.length > 0 && all.values.length > 0) return true;
        await deployments.publish(mine.deployment);
        return false;
      },
      "both subscriptions' first update",
      15_000,
    );
    await deployments.signal(foreign.deployment.id, { type: "JOB_REPORTED", status: "running" });
    await deployments.signal(other.deployment.id, { type: "JOB_REPORTED", status: "running" });
    await deployments.signal(mine.deployment.id, { type: "JOB_REPORTED", status: "completed" });
    await one.until((v) => v.some((u) => u.status === "COMPLETED"));
    await all.until(
      (v) =>
        v.some((u) => u.id === other.deployment.id && u.status === "RUNNING") &&
        v.some((u) => u.status === "COMPLETED"),
    );
    expect(one.values.every((u) => u.id === mine.deployment.id)).toBe(true);
    expect(all.values.some((u) => u.id === foreign.deployment.id)).toBe(false);
    expect(one.values.at(-1)).toMatchObject({ status: "COMPLETED", stopReason: "COMPLETED" });
  });

  it("refuses another user's deployment with NOT_FOUND", async () => {
    const foreign = await newDeployment(db, "upd-owner");
    const received = collect(await client("upd-thief"), UPDATED, { id: foreign.deployment.id }, pick);
    await received.ended;
    expect(JSON.stringify(received.errors)).toContain("NOT_FOUND");
  });

  it("answers a subscription sent over HTTP with a clear error", async () => {
    const res = await t.gql("upd-http", `subscription { budgetAlerts { thresholdPercent } }`);
    expect(res.errors?.[0]).toMatchObject({ extensions: { code: "BAD_REQUEST" } });
    expect(res.errors?.[0].message).toMatch(/WebSocket/);
  });
});

const replicas = usingPostgres() && usingRedis();

/**
 * Runs `test` with two replicas on one database and one bus (PostgreSQL and Redis), or with the one gateway
 * twice (embedded mode has one replica).
 */
async function onTwoReplicas(test: (a: TestGateway, b: TestGateway) => Promise<void>): Promise<void> {
  const shared = replicas ? await freshDatabase() : undefined;
  const options = { gatewayOptions: { metricsRoutes: { ratePerSecond: 10_000, burst: 10_000 } } };
  const a = shared ? await startTestGateway({ database: shared, ...options }) : t;
  const b = shared ? await startTestGateway({ database: shared, ...options }) : t;
  try {
    await test(a, b);
  } finally {
    await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
    if (shared) {
      await a.close();
      await b.close();
      await shared.drop();
    }
  }
}

/**
 * A test with a job of `user` made on replica A and a subscription to its live points on replica B, live once
 * it received a step from 1 up posted to A; `next` is the first step not posted yet.
 */
function itAcrossReplicas(
  [onTwo, onOne]: [string, string],
  user: string,
  test: (ctx: {
    a: TestGateway;
    b: TestGateway;
    rows: DeploymentRows;
    received: Collected<Point>;
    next: number;
  }) => Promise<void>,
): void {
  it(replicas ? onTwo : `${onOne} (embedded mode has one replica)`, () =>
    onTwoReplicas(async (a, b) => {
      const rows = await newDeployment(a.gateway.db.dataSource, user);
      const received = collect(await client(user, b.url), METRICS, { jobId: rows.job.id }, pickPoint);
      const next = await untilLive(received, (s) => post(rows, [s], a.url), 1);
      await test({ a, b, rows, received, next });
    }),
  );
}

/** The steps in the order received, each higher than the one before. */
function expectRising(steps: number[]): void {
  const fallsBack = steps.findIndex((step, i) => i > 0 && step <= steps[i - 1]);
  expect(fallsBack === -1 ? "rising" : steps.slice(Math.max(0, fallsBack - 3), fallsBack + 1)).toBe("rising");
}

describe("across replicas", () => {
  itAcrossReplicas(
    [
      "delivers a point POSTed to replica A to a subscriber on replica B",
      "delivers a point POSTed to the gateway to its subscriber",
    ],
    "replica-user",
    async ({ a, rows, received, next }) => {
      await post(rows, [next, next + 1], a.url);
      const values = await received.until((v) => v.some((p) => p.step === next + 1));
      expect(values.map((p) => p.step).slice(-2)).toEqual([next, next + 1]);
    },
  );

  itAcrossReplicas(
    [
      "never delivers a lower step after a higher one when a job's posts land on two replicas at once, and stores every step",
      "never delivers a lower step after a higher one when a job's posts overlap, and stores every step",
    ],
    "replica-order",
    async ({ a, b, rows, received, next: first }) => {
      const steps = Array.from({ length: 300 }, (_, i) => first + i).sort(() => Math.random() - 0.5);
      // Single points and small batches, alternately to A and B, ten requests in flight at a time.
      const requests: number[][] = [];
      for (let i = 0, n = 1; i < steps.length; i += n, n = 4 - n) requests.push(steps.slice(i, i + n));
      for (let i = 0; i < requests.length; i += 10)
        await Promise.all(
          requests.slice(i, i + 10).map((r, j) => post(rows, r, j % 2 === 0 ? a.url : b.url)),
        );
      const last = first + steps.length - 1;
      const values = await received.until((v) => v.some((p) => p.step === last));
      expectRising(values.map((p) => p.step));
      const stored = await a.gateway.db.dataSource.query<{ step: number }[]>(
        `SELECT step FROM training_metrics WHERE job_id = $1 AND step >= $2 ORDER BY step`,
        [rows.job.id, first],
      );
      expect(stored.map((r) => r.step)).toEqual(steps.slice().sort((x, y) => x - y));
    },
  );

  itAcrossReplicas(
    [
      "delivers the steps a run redoes once it reports running to replica A, posted to replica B, to a subscriber on B",
      "delivers the steps a run redoes once it reports running again",
    ],
    "replica-resume",
    async ({ a, b, rows, received, next }) => {
      await post(rows, [next, next + 1], a.url);
      // A late resend of a lower step, through the other replica: stored, not delivered.
      await post(rows, [next - 1], b.url, { loss: 0.75 });
      await post(rows, [next + 2], b.url);
      await received.until((v) => v.some((p) => p.step === next + 2));
      await reportRunning(rows, a.url);
      // The run redoes steps from its checkpoint, its posts landing on either replica.
      await post(rows, [next - 1], b.url, { loss: 0.5 });
      await post(rows, [next], a.url, { loss: 0.5 });
      const values = await received.until((v) => v.some((p) => p.step === next && p.loss === 0.5));
      const steps = values.map((p) => p.step);
      expect(steps.slice(-5)).toEqual([next, next + 1, next + 2, next - 1, next]);
      expect(values.at(-2)).toMatchObject({ step: next - 1, loss: 0.5 });
      expectRising(steps.slice(0, -2));
    },
  );
});

describe("TrainingJob.metrics", () => {
  const HISTORY = `query($id: ID!, $after: Int, $limit: Int, $max: Int) {
    trainingJob(id: $id) { progress latestMetric { step } metrics(afterStep: $after, limit: $limit, maxPoints: $max) { step loss } }
  }`;
  type History = {
    trainingJob: {
      progress: number;
      latestMetric: { step: number };
      metrics: { step: number; loss: number }[];
    };
  };

  it("answers history in step order, after a step, up to a limit, with the latest point and progress", async () => {
    const rows = await newDeployment(db, "hist-user");
    await post(rows, [5, 1, 3, 2, 4], t.url, { progress: 40 });
    const res = await t.gql<History>("hist-user", HISTORY, { id: rows.job.id, after: 1, limit: 3 });
    expect(res.data?.trainingJob.metrics.map((m) => m.step)).toEqual([2, 3, 4]);
    expect(res.data?.trainingJob.latestMetric.step).toBe(5);
    expect(res.data?.trainingJob.progress).toBe(40);
  });

  it("downsamples to maxPoints, keeping the first, the last and a spike", async () => {
    const rows = await newDeployment(db, "hist-down");
    for (let s = 0; s < 3000; s += 500) {
      await post(
        rows,
        Array.from({ length: 500 }, (_, i) => s + i),
      );
    }
    await post(rows, [1234], t.url, { loss: 99 });
    const res = await t.gql<History>("hist-down", HISTORY, { id: rows.job.id, max: 100 });
    const points = res.data!.trainingJob.metrics;
    expect(points).toHaveLength(100);
    expect(points[0].step).toBe(0);
    expect(points.at(-1)?.step).toBe(2999);
    expect(points.map((p) => p.step)).toContain(1234);
    expect([...points].sort((x, y) => x.step - y.step)).toEqual(points);
  });

  it("downsamples a long history without reading it whole", async () => {
    const rows = await newDeployment(db, "hist-long");
    await db.query(
      `INSERT INTO training_metrics (job_id, step, loss) SELECT $1, s, 3.0 / (1 + s / 1000.0) FROM generate_series(0, 49999) AS s`,
      [rows.job.id],
    );
    const res = await t.gql<History>("hist-long", HISTORY, { id: rows.job.id, max: 500 });
    const points = res.data!.trainingJob.metrics;
    expect(points).toHaveLength(500);
    expect(points[0].step).toBe(0);
    expect(points.at(-1)?.step).toBe(49_999);
  });

  it("refuses maxPoints out of range", async () => {
    const rows = await newDeployment(db, "hist-user");
    const res = await t.gql<History>("hist-user", HISTORY, { id: rows.job.id, max: 1 });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "maxPoints" });
  });
});
