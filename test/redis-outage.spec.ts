import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { freePort } from "./support/simulated";
import { collect, wsClient } from "./support/ws";
import { eventually } from "./support/eventually";
import { requireRedisServer, startRedisServer, type RedisServer } from "./support/redis-server";

requireRedisServer();

let port: number;
let redis: RedisServer | undefined;
let t: TestGateway;

async function startRedis(): Promise<void> {
  redis = await startRedisServer(port);
}

async function killRedis(): Promise<void> {
  await redis!.kill();
  redis = undefined;
}

beforeAll(async () => {
  port = await freePort();
  await startRedis();
  t = await startTestGateway({
    env: { REDIS_URL: `redis://127.0.0.1:${port}` },
    gatewayOptions: { metricsRoutes: { ratePerSecond: 1000, burst: 1000 } },
  });
});
afterAll(async () => {
  await t.close().catch(() => undefined);
  if (redis) await killRedis();
});

const METRICS = `subscription($jobId: ID!, $afterStep: Int) { trainingMetrics(jobId: $jobId, afterStep: $afterStep) { step } }`;

async function post(rows: DeploymentRows, step: number): Promise<number> {
  const res = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ step, loss: 1 / (step + 1) }),
  });
  return res.status;
}

describe("a Redis outage mid-stream", () => {
  it("ends live subscriptions with UPSTREAM_UNAVAILABLE, keeps ingesting, and a resubscribe with afterStep misses nothing", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "outage-user");
    const first = collect(
      wsClient(t.url, await t.token("outage-user")),
      METRICS,
      { jobId: rows.job.id },
      (d) => (d.trainingMetrics as { step: number }).step,
    );
    // Live from the first point that arrives. graphql-ws does not tell a client when its subscription is
    // listening on the server, so points are posted until one comes through.
    let step = 0;
    await eventually(async () => {
      expect(await post(rows, step++)).toBe(200);
      return first.values.length > 0;
    }, "the first live point of the first subscription");
    for (let i = 0; i < 5; i++) expect(await post(rows, step++)).toBe(200);
    await first.until((v) => v.includes(step - 1));

    await killRedis();
    await first.ended;
    expect(JSON.stringify(first.errors)).toContain("UPSTREAM_UNAVAILABLE");
    const lastSeen = Math.max(...first.values);

    // Every point the gateway acknowledges while Redis is down is stored; nothing waits on the bus.
    const during: number[] = [];
    for (let i = 0; i < 10; i++) {
      during.push(step);
      expect(await post(rows, step++)).toBe(200);
    }
    expect((await fetch(`${t.url}/readyz`)).status).toBe(503);

    await startRedis();
    // Nothing announces that the gateway's Redis clients reconnected: its readiness answer is polled.
    await eventually(async () => (await fetch(`${t.url}/readyz`)).status === 200, "ready again", 30_000);
    const second = collect(
      wsClient(t.url, await t.token("outage-user")),
      METRICS,
      { jobId: rows.job.id, afterStep: lastSeen },
      (d) => (d.trainingMetrics as { step: number }).step,
    );
    await second.until((v) => during.every((s) => v.includes(s)));
    // And live points follow the replay once the bus is back (posted until one arrives, as above).
    const firstLive = step;
    await eventually(
      async () => {
        expect(await post(rows, step++)).toBe(200);
        return second.values.some((s) => s >= firstLive);
      },
      "a live point after the outage",
      30_000,
    );
    await second.until((v) => v.includes(step - 1));
    const all = [...first.values, ...second.values];
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + all[0]));
    second.dispose();
  });
});
