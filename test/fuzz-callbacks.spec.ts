import { request } from "node:http";
import fc from "fast-check";
import type { DataSource } from "typeorm";
import { JobStatus } from "../src/jobs/training-job.enums";
import { PayloadError, parseMetricsBody, parseStatusBody } from "../src/metrics/metric-payload";
import { anyBody, statusBody } from "./support/callback-arbitraries";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

/**
 * Property-based tests of the pod callbacks over HTTP (the two REST routes a pod posts to), against a real gateway:
 * whatever the body, the answer is one of the table's statuses for a caller with a valid token, never a 5xx,
 * and a refused request stores nothing.
 */

let t: TestGateway;
let db: DataSource;
beforeAll(async () => {
  t = await startTestGateway({ gatewayOptions: { metricsRoutes: { ratePerSecond: 1000, burst: 1000 } } });
  db = t.gateway.db.dataSource;
});
afterAll(() => t.close());

const LIMIT = 256 * 1024;

/** Raw bodies: JSON of any shape, invalid UTF-8, non-JSON, deep nesting, sizes around the 256 KiB bound. */
const rawBody: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: anyBody.map((body) => json(body)), weight: 6 },
  { arbitrary: statusBody.map((body) => json(body)), weight: 4 },
  { arbitrary: fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)), weight: 1 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((text) => Buffer.from(text)), weight: 1 },
  {
    // Invalid UTF-8 inside a JSON string, and inside the JSON around it.
    arbitrary: fc
      .tuple(fc.constantFrom("loss", "message", "status", "artifact_uri"), fc.uint8Array({ maxLength: 16 }))
      .map(([key, bytes]) =>
        Buffer.concat([Buffer.from(`{"step": 3, "${key}": "`), Buffer.from(bytes), Buffer.from(`"}`)]),
      ),
    weight: 1,
  },
  {
    arbitrary: fc
      .constantFrom(
        '{"step": 1, "loss": NaN}',
        '{"step": 1, "loss": Infinity}',
        '{"step": 1e400}',
        '{"step": -0}',
        '{"step": 1.0, "progress": 1e-400}',
        '{"step": 5, "step": -5}',
        '{"__proto__": {"step": 5}}',
        '{"metrics": {"length": 3}}',
        '{"status": "running", "message": "nul \\u0000 inside"}',
        '{"status": "failed", "message": "\\ud800 lone surrogate"}',
        '{"status": "completed", "artifact_uri": "hf://owner/repo\\u0000"}',
        "",
        "null",
        "[]",
        '"text"',
      )
      .map((text) => Buffer.from(text)),
    weight: 1,
  },
  {
    arbitrary: fc
      .integer({ min: 1, max: 120_000 })
      .map((depth) => Buffer.from("[".repeat(depth) + "]".repeat(depth))),
    weight: 1,
  },
  {
    // A valid point padded to just under or just over the limit.
    arbitrary: fc
      .integer({ min: LIMIT - 64, max: LIMIT + 64 })
      .map((size) => Buffer.from(`{"step": 1, "pad": "${"x".repeat(size - 23)}"}`)),
    weight: 1,
  },
);

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) ?? "");
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A raw POST, with the body sent with a length or in chunks (so the size limit is met while reading). */
function post(path: string, token: string, body: Buffer, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, t.url);
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          ...(chunked ? {} : { "content-length": body.length }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (chunked) {
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** What a callback may change: the job's points, the job, its deployment and its audit trail. */
async function snapshot(rows: DeploymentRows) {
  const [metrics] = await db.query<{ n: number; steps: number[] | null }[]>(
    `SELECT count(*)::int AS n, array_agg(step ORDER BY step) AS steps FROM training_metrics WHERE job_id = $1`,
    [rows.job.id],
  );
  const [job] = await db.query<Record<string, unknown>[]>(
    `SELECT status, progress, error_message, artifact_uri, completed_at FROM training_jobs WHERE id = $1`,
    [rows.job.id],
  );
  const [deployment] = await db.query<Record<string, unknown>[]>(
    `SELECT status, stop_reason, error_message FROM cloud_deployments WHERE id = $1`,
    [rows.deployment.id],
  );
  const [events] = await db.query<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM deployment_events WHERE deployment_id = $1`,
    [rows.deployment.id],
  );
  return { metrics, job, deployment, events: events.n };
}

/** What the parser makes of the body, as the handler reads it: the oracle for 200 versus 400. */
function parsed(route: "metrics" | "status", body: Buffer): "malformed" | PayloadError | number {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    return "malformed";
  }
  try {
    return route === "metrics" ? parseMetricsBody(value).length : (parseStatusBody(value), 1);
  } catch (error) {
    if (error instanceof PayloadError) return error;
    throw error;
  }
}

describe("pod callbacks over HTTP, fuzzed", () => {
  it("answer 200/400/409/413/429 to any body, never a 5xx, and store nothing unless 200", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("metrics" as const, "status" as const),
        rawBody,
        fc.boolean(),
        fc.constantFrom(false, false, false, true),
        async (route, body, chunked, finished) => {
          const rows = await newDeployment(db, "fuzz-callbacks");
          if (finished) {
            await db.query(`UPDATE training_jobs SET status = $2 WHERE id = $1`, [
              rows.job.id,
              JobStatus.COMPLETED,
            ]);
          }
          const before = await snapshot(rows);
          const answer = await post(
            `/api/training/jobs/${rows.job.id}/${route}`,
            rows.jobToken,
            body,
            chunked,
          );
          expect([200, 400, 409, 413, 429]).toContain(answer.status);
          const after = await snapshot(rows);
          if (answer.status !== 200) {
            expect(after).toEqual(before);
          }
          if (body.length > LIMIT) {
            expect(answer.status).toBe(413);
            return;
          }
          const oracle = parsed(route, body);
          if (answer.status === 400) {
            expect(oracle).not.toEqual(expect.any(Number));
            expect(answer.body.field).toEqual(expect.any(String));
            expect(answer.body.error).toEqual(expect.any(String));
          } else if (answer.status === 200) {
            expect(oracle).toEqual(expect.any(Number));
            if (route === "metrics") {
              expect(answer.body).toMatchObject({ status: "ok", accepted: oracle });
              expect(after.metrics.n).toBeGreaterThanOrEqual(1);
            }
          } else if (answer.status === 409) {
            expect(finished).toBe(true);
          }
          if (!finished && typeof oracle === "number") expect(answer.status).toBe(200);
        },
      ),
      {
        numRuns: 150,
        // Found by this property: 500s from PostgreSQL (a NUL in text, a lone surrogate in jsonb), the last after
        // the job had already moved.
        examples: [
          ["status", Buffer.from('{"status": "failed", "message": "CUDA error \\u0000"}'), false, false],
          ["status", Buffer.from('{"status": "completed", "artifact_uri": "hf://o/r\\u0000"}'), false, false],
          ["status", Buffer.from('{"status": "completed", "artifact_uri": "hf://o/\\ud800"}'), false, false],
        ],
      },
    );
  });

  it("still answers /healthz after the fuzzing", async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
  });
});
