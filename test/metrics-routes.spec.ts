import { Client } from "pg";
import type { DataSource } from "typeorm";
import { DeploymentStatus, StopReason } from "../src/deployments/deployment.enums";
import { JobStatus } from "../src/jobs/training-job.enums";
import { deploymentTopics } from "../src/deployments/deployment-stream";
import { metricTopics } from "../src/metrics/metric.topics";
import { MetricIngestService } from "../src/metrics/metric-ingest.service";
import { parseMetricsBody } from "../src/metrics/metric-payload";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

let t: TestGateway;
let db: DataSource;
beforeAll(async () => {
  t = await startTestGateway({ gatewayOptions: { metricsRoutes: { ratePerSecond: 1000, burst: 1000 } } });
  db = t.gateway.db.dataSource;
});
afterAll(() => t.close());

const point = (step: number, extra: Record<string, unknown> = {}) => ({
  step,
  epoch: step / 100,
  loss: 2.5 - step / 1000,
  eval_loss: null,
  learning_rate: 0.0002,
  grad_norm: 1.1,
  samples_per_second: 8.2,
  elapsed_seconds: step * 3,
  remaining_seconds: 900,
  progress: step / 10,
  gpu_memory_allocated_gb: 12.3,
  gpu_memory_reserved_gb: 14.0,
  gpu_utilization_percent: 97,
  ...extra,
});

async function post(rows: DeploymentRows, route: "metrics" | "status", body: unknown, token = rows.jobToken) {
  const res = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

async function stored(jobId: string) {
  return db.query<{ step: number; loss: number; elapsed_seconds: number; recorded_at: Date }[]>(
    `SELECT step, loss, elapsed_seconds, recorded_at FROM training_metrics WHERE job_id = $1 ORDER BY step`,
    [jobId],
  );
}

describe("POST /api/training/jobs/:jobId/metrics", () => {
  it("stores one point and answers 200 with the count and the stop flag", async () => {
    const rows = await newDeployment(db, "m-user");
    const res = await post(rows, "metrics", point(50));
    expect(res).toMatchObject({ status: 200, body: { status: "ok", accepted: 1, stop: false } });
    expect((await stored(rows.job.id)).map((r) => [r.step, r.loss, r.elapsed_seconds])).toEqual([
      [50, 2.45, 150],
    ]);
    const job = await db.query<{ progress: number }[]>(`SELECT progress FROM training_jobs WHERE id = $1`, [
      rows.job.id,
    ]);
    expect(job[0].progress).toBe(5);
  });

  it("stores a batch, replaces a resent step, and ignores unknown keys", async () => {
    const rows = await newDeployment(db, "m-user");
    const batch = Array.from({ length: 500 }, (_, i) => point(i, { some_future_key: "x" }));
    expect((await post(rows, "metrics", { metrics: batch })).body).toMatchObject({ accepted: 500 });
    expect(await post(rows, "metrics", point(10, { loss: 0.123 }))).toMatchObject({ status: 200 });
    const all = await stored(rows.job.id);
    expect(all).toHaveLength(500);
    expect(all.find((r) => r.step === 10)?.loss).toBe(0.123);
  });

  it("accepts the exact payload the contract documents, nulls included", async () => {
    const rows = await newDeployment(db, "m-user");
    const body =
      '{ "step": 50, "epoch": 0.5, "loss": 2.34, "eval_loss": null, "learning_rate": 0.0002, "grad_norm": 1.1,' +
      ' "samples_per_second": 8.2, "elapsed_seconds": 300, "remaining_seconds": 900, "progress": 25.5,' +
      ' "gpu_memory_allocated_gb": 12.3, "gpu_memory_reserved_gb": 14.0, "gpu_utilization_percent": 97 }';
    expect(await post(rows, "metrics", body)).toMatchObject({ status: 200, body: { accepted: 1 } });
  });

  it.each<[string, unknown, RegExp]>([
    ["malformed JSON", "{ step: 1", /malformed JSON/],
    ["a missing step", { loss: 1 }, /body\.step/],
    ["a negative step", { step: -1 }, /body\.step/],
    ["a fractional step", { step: 1.5 }, /body\.step/],
    ["a string loss", { step: 1, loss: "low" }, /body\.loss/],
    ["a batch over 500", { metrics: Array.from({ length: 501 }, (_, i) => ({ step: i })) }, /at most 500/],
    [
      "a batch with one bad point",
      { metrics: [{ step: 1 }, { step: 2 }, { step: 3, progress: "x" }] },
      /metrics\[2\]\.progress/,
    ],
    ["an empty batch", { metrics: [] }, /at least one/],
  ])("answers 400 naming the field for %s, and stores nothing", async (_case, body, message) => {
    const rows = await newDeployment(db, "m-user");
    const res = await post(rows, "metrics", body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
    expect(await stored(rows.job.id)).toEqual([]);
  });

  it("answers 401 alike for a wrong token, no token, and an unknown job", async () => {
    const rows = await newDeployment(db, "m-user");
    const wrong = await post(rows, "metrics", point(1), "not-the-token");
    const none = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
      method: "POST",
      body: "{}",
    });
    const unknown = await fetch(`${t.url}/api/training/jobs/00000000-0000-4000-8000-000000000000/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${rows.jobToken}` },
      body: JSON.stringify(point(1)),
    });
    expect(wrong).toMatchObject({ status: 401, body: { error: "unauthorized" } });
    expect([none.status, await none.json()]).toEqual([401, { error: "unauthorized" }]);
    expect([unknown.status, await unknown.json()]).toEqual([401, { error: "unauthorized" }]);
  });

  it("answers 409 once the job is finished", async () => {
    const rows = await newDeployment(db, "m-user");
    await db.query(`UPDATE training_jobs SET status = $2 WHERE id = $1`, [rows.job.id, JobStatus.COMPLETED]);
    t.gateway.services.jobAccess.invalidate(rows.job.id);
    expect(await post(rows, "metrics", point(1))).toMatchObject({
      status: 409,
      body: { error: "job is finished" },
    });
  });

  it("answers 413 for a body over 256 KiB", async () => {
    const rows = await newDeployment(db, "m-user");
    const res = await post(rows, "metrics", { metrics: [point(1, { padding: "x".repeat(270_000) })] });
    expect(res.status).toBe(413);
  });

  it("answers stop: true once the deployment is being stopped", async () => {
    const rows = await newDeployment(db, "m-user");
    await t.gateway.services.deployments.requestStop(rows.deployment.id, StopReason.BUDGET_EXCEEDED);
    t.gateway.services.jobAccess.invalidate(rows.job.id);
    expect((await post(rows, "metrics", point(1))).body).toMatchObject({ status: "ok", stop: true });
  });

  it("keeps every point it answered 200 for, under 50 concurrent posters", async () => {
    const jobs = await Promise.all(Array.from({ length: 10 }, () => newDeployment(db, "m-load")));
    const posts = Array.from({ length: 50 }, (_, i) =>
      post(jobs[i % 10], "metrics", {
        metrics: Array.from({ length: 20 }, (_, k) => point(Math.floor(i / 10) * 100 + k)),
      }),
    );
    const answers = await Promise.all(posts);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const [{ n }] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM training_metrics WHERE job_id = ANY($1::uuid[])`,
      [jobs.map((j) => j.job.id)],
    );
    expect(n).toBe(50 * 20);
  });

  it("treats any letter case of a job id as the job itself: stored, published and limited under one id", async () => {
    const rows = await newDeployment(db, "m-user");
    const seen: number[] = [];
    let done!: () => void;
    const published = new Promise<void>((resolve) => (done = resolve));
    const unlisten = await t.gateway.bus.listen(metricTopics.jobMetric(rows.job.id), (event) => {
      expect(event.jobId).toBe(rows.job.id);
      for (const p of event.points) seen.push(p.step);
      done();
    });
    const res = await fetch(`${t.url}/api/training/jobs/${rows.job.id.toUpperCase()}/metrics`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
      body: JSON.stringify(point(7)),
    });
    expect(res.status).toBe(200);
    await published;
    await unlisten();
    expect(seen).toEqual([7]);
    expect((await stored(rows.job.id)).map((r) => r.step)).toEqual([7]);
  });

  it("refuses progress outside 0..100 and never moves progress back for a late lower step", async () => {
    const rows = await newDeployment(db, "m-user");
    const progress = async () =>
      (
        await db.query<{ progress: number }[]>(`SELECT progress FROM training_jobs WHERE id = $1`, [
          rows.job.id,
        ])
      )[0].progress;
    for (const bad of [1e9, 100.5, -1]) {
      const res = await post(rows, "metrics", point(1, { progress: bad }));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/body\.progress/);
    }
    expect(await stored(rows.job.id)).toEqual([]);
    expect(await post(rows, "metrics", point(900, { progress: 90 }))).toMatchObject({ status: 200 });
    expect(await post(rows, "metrics", point(100, { progress: 10 }))).toMatchObject({ status: 200 });
    expect(await progress()).toBe(90);
    expect(await post(rows, "metrics", point(1000, { progress: 100 }))).toMatchObject({ status: 200 });
    expect(await progress()).toBe(100);
  });

  it("publishes stored points in step order, after they are committed", async () => {
    const rows = await newDeployment(db, "m-user");
    const seen: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const unlisten = await t.gateway.bus.listen(metricTopics.jobMetric(rows.job.id), (event) => {
      for (const p of event.points) seen.push(p.step);
      if (seen.length === 3) done();
    });
    await post(rows, "metrics", { metrics: [point(3), point(1), point(2)] });
    await all;
    await unlisten();
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe("the order subscribers see a job's points in", () => {
  const ingest = () => t.gateway.services.ingest;
  const parsed = (step: number) => parseMetricsBody({ metrics: [point(step)] });

  /** Every step published for the job, in the order the bus delivered them, until `count` arrived. */
  async function published(jobId: string, count: number, run: () => Promise<unknown>): Promise<number[]> {
    const seen: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const unlisten = await t.gateway.bus.listen(metricTopics.jobMetric(jobId), (event) => {
      for (const p of event.points) seen.push(p.step);
      if (seen.length >= count) done();
    });
    try {
      await run();
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    } finally {
      await unlisten();
    }
    return seen;
  }

  it("gives each point an id made of its job and step, the same in every answer (a cache key)", async () => {
    const rows = await newDeployment(db, "order-id");
    await ingest().submit(rows.job.id, parsed(4));
    const res = await t.gql<{ trainingJob: { metrics: { id: string; step: number }[] } }>(
      "order-id",
      `query($id: ID!) { trainingJob(id: $id) { metrics { id step } } }`,
      { id: rows.job.id },
    );
    expect(res.data?.trainingJob.metrics).toEqual([{ id: `${rows.job.id}:4`, step: 4 }]);
  });

  it("holds a higher step back while a lower one of the same job is still being written", async () => {
    const rows = await newDeployment(db, "order-held");
    // The first request starts a write at once; the second, of the same job, waits for the next write.
    const seen = await published(rows.job.id, 2, () =>
      Promise.all([ingest().submit(rows.job.id, parsed(10)), ingest().submit(rows.job.id, parsed(5))]),
    );
    expect(seen).toEqual([5, 10]);
    expect((await stored(rows.job.id)).map((r) => r.step)).toEqual([5, 10]);
  });

  it("stores and publishes a step that arrives after a higher one was published (subscriptions skip it), and replays it", async () => {
    const rows = await newDeployment(db, "order-late");
    const seen = await published(rows.job.id, 3, async () => {
      await ingest().submit(rows.job.id, parsed(10));
      await ingest().submit(rows.job.id, parsed(5));
      await ingest().submit(rows.job.id, parsed(11));
    });
    expect(seen).toEqual([10, 5, 11]);
    expect((await stored(rows.job.id)).map((r) => r.step)).toEqual([5, 10, 11]);
    const replay = await t.gql<{ trainingJob: { metrics: { step: number }[] } }>(
      "order-late",
      `query($id: ID!) { trainingJob(id: $id) { metrics { step } } }`,
      { id: rows.job.id },
    );
    expect(replay.data?.trainingJob.metrics.map((m) => m.step)).toEqual([5, 10, 11]);
  });

  it("publishes the job's restart marker when a run reports running again, before the steps it redoes", async () => {
    const rows = await newDeployment(db, "order-resume");
    const events: string[] = [];
    let done!: () => void;
    const three = new Promise<void>((resolve) => (done = resolve));
    const unlisten = await t.gateway.bus.listen(metricTopics.jobMetric(rows.job.id), (event) => {
      events.push(event.restart === true ? "restart" : event.points.map((p) => p.step).join(","));
      if (events.length === 3) done();
    });
    try {
      await post(rows, "metrics", { metrics: [point(20)] });
      expect((await post(rows, "status", { status: "running" })).status).toBe(200);
      await post(rows, "metrics", { metrics: [point(11), point(12)] });
      await three;
    } finally {
      await unlisten();
    }
    expect(events).toEqual(["20", "restart", "11,12"]);
  });

  it("keeps each job's order with two writes in flight: another job's write runs beside, the job's own waits", async () => {
    const [a, b] = [await newDeployment(db, "order-two-a"), await newDeployment(db, "order-two-b")];
    const { gateway } = t;
    const two = new MetricIngestService(db, gateway.bus, gateway.logger, { maxConcurrentWrites: 2 });
    const seenA = published(a.job.id, 3, async () => {
      const first = two.submit(a.job.id, parsed(7));
      const other = two.submit(b.job.id, parsed(1)); // a second write, beside the first
      const lower = two.submit(a.job.id, parsed(3)); // job a is in a write: waits for the next
      const lowest = two.submit(a.job.id, parsed(2));
      await Promise.all([first, other, lower, lowest]);
    });
    expect(await seenA).toEqual([2, 3, 7]);
    expect((await stored(b.job.id)).map((r) => r.step)).toEqual([1]);
  });

  it("publishes and stores every step, whatever order concurrent posts arrive in", async () => {
    const rows = await newDeployment(db, "order-race");
    const steps = Array.from({ length: 40 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    const seen = await published(rows.job.id, 40, () =>
      Promise.all(steps.map((step) => post(rows, "metrics", { metrics: [point(step)] }))),
    );
    const sorted = steps.slice().sort((a, b) => a - b);
    expect(seen.slice().sort((a, b) => a - b)).toEqual(sorted);
    expect((await stored(rows.job.id)).map((r) => r.step)).toEqual(sorted);
  });
});

describe("/metrics", () => {
  it("exposes Prometheus counters of the callbacks, the points ingested and the gateway's state", async () => {
    const rows = await newDeployment(db, "prom-user");
    await post(rows, "metrics", { metrics: [point(1), point(2), point(3)] });
    await post(rows, "metrics", point(4), "wrong-token");
    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/^traingate_metric_points_ingested_total (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(
      value(/^traingate_pod_callbacks_total\{route="metrics",status="200"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^traingate_pod_callbacks_total\{route="metrics",status="401"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(value(/^traingate_deployments\{status="RUNNING"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^traingate_subscriptions_open \d+$/m);
    expect(text).toMatch(/^traingate_process_resident_memory_bytes \d+/m);
  });
});

describe("the per-job rate limit", () => {
  it("answers 429 with Retry-After past the job's rate", async () => {
    const limited = await startTestGateway({
      gatewayOptions: { metricsRoutes: { ratePerSecond: 1, burst: 2 } },
    });
    try {
      const rows = await newDeployment(limited.gateway.db.dataSource, "rl-user");
      const send = () =>
        fetch(`${limited.url}/api/training/jobs/${rows.job.id}/metrics`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
          body: JSON.stringify(point(1)),
        });
      const answers = [await send(), await send(), await send()];
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
      expect(Number(answers[2].headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });
});

describe("POST /api/training/jobs/:jobId/status", () => {
  const deploymentRow = (id: string) =>
    t.gateway.services.deploymentQueries
      .get("s-user", id)
      .then((d) => ({ status: d.status, stopReason: d.stopReason }));
  const jobRow = (id: string) =>
    db.query<
      { status: string; artifact_uri: string | null; error_message: string | null; started_at: Date | null }[]
    >(`SELECT status, artifact_uri, error_message, started_at FROM training_jobs WHERE id = $1`, [id]);

  it("moves job and deployment through running and completed, keeping the artifact URI, and publishes", async () => {
    const rows = await newDeployment(db, "s-user", { status: DeploymentStatus.STARTING });
    await db.query(`UPDATE training_jobs SET status = 'PENDING' WHERE id = $1`, [rows.job.id]);
    let announced!: () => void;
    const published = new Promise<void>((resolve) => (announced = resolve));
    const unlisten = await t.gateway.bus.listen(deploymentTopics.deploymentUpdated(rows.deployment.id), () =>
      announced(),
    );

    expect(await post(rows, "status", { status: "running" })).toMatchObject({
      status: 200,
      body: { status: "ok", stop: false },
    });
    await published;
    await unlisten();
    expect(await deploymentRow(rows.deployment.id)).toEqual({ status: "RUNNING", stopReason: null });
    expect((await jobRow(rows.job.id))[0]).toMatchObject({ status: "RUNNING" });

    const done = await post(rows, "status", { status: "completed", artifact_uri: "hf://me/adapter" });
    expect(done.status).toBe(200);
    expect(await deploymentRow(rows.deployment.id)).toEqual({ status: "COMPLETED", stopReason: "COMPLETED" });
    expect((await jobRow(rows.job.id))[0]).toMatchObject({
      status: "COMPLETED",
      artifact_uri: "hf://me/adapter",
    });
    expect(await post(rows, "status", { status: "failed" })).toMatchObject({ status: 409 });
  });

  it("records a failure with its message, and a stop with the pending reason", async () => {
    const failing = await newDeployment(db, "s-user");
    await post(failing, "status", { status: "failed", message: "CUDA out of memory" });
    expect(await deploymentRow(failing.deployment.id)).toEqual({ status: "FAILED", stopReason: "FAILED" });
    expect((await jobRow(failing.job.id))[0]).toMatchObject({
      status: "FAILED",
      error_message: "CUDA out of memory",
    });

    const stopping = await newDeployment(db, "s-user");
    await t.gateway.services.deployments.requestStop(stopping.deployment.id, StopReason.MAX_DURATION);
    await post(stopping, "status", { status: "stopped", message: "stop requested" });
    expect(await deploymentRow(stopping.deployment.id)).toEqual({
      status: "STOPPED",
      stopReason: "MAX_DURATION",
    });
  });

  it.each<[string, unknown]>([
    ["an unknown status", { status: "exploded" }],
    ["a non-URI artifact", { status: "completed", artifact_uri: "just words" }],
  ])("answers 400 for %s", async (_case, body) => {
    const rows = await newDeployment(db, "s-user");
    const res = await post(rows, "status", body);
    expect(res.status).toBe(400);
    expect((await jobRow(rows.job.id))[0].status).toBe("RUNNING");
  });
});

describe("when the database goes away", () => {
  it("answers 503 with Retry-After and stores nothing", async () => {
    const gone = await startTestGateway();
    try {
      const rows = await newDeployment(gone.gateway.db.dataSource, "db-user");
      await gone.gql("db-user", `{ me { id } }`); // the user is known (cached) before the database goes
      const send = (step: number) =>
        fetch(`${gone.url}/api/training/jobs/${rows.job.id}/metrics`, {
          method: "POST",
          headers: { authorization: `Bearer ${rows.jobToken}`, "content-type": "application/json" },
          body: JSON.stringify(point(step)),
        });
      // Warm the token cache, then take the database away underneath the running gateway.
      expect((await send(1)).status).toBe(200);
      await breakDatabase(gone);
      const res = await send(2);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await fetch(`${gone.url}/readyz`)).status).toBe(503);
      // GraphQL says so too, with HTTP 503 and Retry-After, for a known user and a first-seen one alike.
      for (const user of ["db-user", "db-first-seen"]) {
        const res = await fetch(`${gone.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${await gone.token(user)}` },
          body: JSON.stringify({ query: "{ trainingConfigs { id } }" }),
        });
        const body = (await res.json()) as {
          errors: { message: string; extensions: Record<string, unknown> }[];
        };
        expect([user, res.status, Number(res.headers.get("retry-after"))]).toEqual([user, 503, 5]);
        expect(body.errors[0].extensions).toEqual({ code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 5 });
        expect(body.errors[0].message).toMatch(/database is unreachable/);
      }
      expect(gone.logs.text).toContain("database unreachable");
    } finally {
      await gone.close().catch(() => undefined);
    }
  });
});

/** PostgreSQL: the test database is dropped under the gateway. PGlite: the embedded instance is closed. */
async function breakDatabase(gateway: TestGateway): Promise<void> {
  const url = gateway.gateway.config.databaseUrl;
  if (url) {
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
    await admin.end();
  } else {
    await gateway.pglite!.close();
  }
}
