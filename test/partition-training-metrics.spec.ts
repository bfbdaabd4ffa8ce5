import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { freshDatabase, type TestDatabaseTarget } from "./support/database";
import { startTestGateway, type TestGateway } from "./support/gateway";

// bench/partition-training-metrics.sql is run by hand when one table of points gets too big: afterwards the
// gateway must store, replace and serve a job's points exactly as before, and no stored point may be lost.

const SCRIPT = readFileSync(path.join(__dirname, "..", "bench", "partition-training-metrics.sql"), "utf8");

let database: TestDatabaseTarget;
let t: TestGateway;
beforeAll(async () => {
  database = await freshDatabase();
  t = await startTestGateway({ database });
});
afterAll(async () => {
  await t.close();
  await database.drop();
});

async function sql<T>(text: string): Promise<T[]> {
  if (database.pglite) return (await database.pglite.exec(text)).at(-1)?.rows as T[];
  const client = new Client({ connectionString: database.databaseUrl });
  await client.connect();
  try {
    const results = (await client.query(text)) as unknown as { rows: T[] } | { rows: T[] }[];
    return Array.isArray(results) ? results.at(-1)!.rows : results.rows;
  } finally {
    await client.end();
  }
}

function post(rows: DeploymentRows, points: { step: number; loss: number }[]): Promise<number> {
  return fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ metrics: points }),
  }).then((r) => r.status);
}

const METRICS = `query($id: ID!) { trainingJob(id: $id) { progress latestMetric { step } metrics { step loss } } }`;

it("keeps every stored point and the gateway's writes and reads work unchanged on the partitioned table", async () => {
  const jobs = await Promise.all(
    ["part-a", "part-b", "part-c"].map((user) => newDeployment(t.gateway.db.dataSource, user)),
  );
  for (const rows of jobs) {
    expect(
      await post(
        rows,
        [0, 1, 2].map((step) => ({ step, loss: 3 - step / 10 })),
      ),
    ).toBe(200);
  }

  await sql(SCRIPT);
  const [{ partitions }] = await sql<{ partitions: string }>(
    `SELECT count(*)::text AS partitions FROM pg_inherits WHERE inhparent = 'training_metrics'::regclass`,
  );
  expect(partitions).toBe("16");

  // New points, and a resend of a stored step with another value (replaced, not duplicated).
  const [a, b, c] = jobs;
  expect(
    await post(a, [
      { step: 1, loss: 9 },
      { step: 3, loss: 2.6 },
    ]),
  ).toBe(200);
  expect(await post(b, [{ step: 3, loss: 2.7 }])).toBe(200);

  const read = async (rows: DeploymentRows, user: string) =>
    (
      await t.gql<{
        trainingJob: { latestMetric: { step: number }; metrics: { step: number; loss: number }[] };
      }>(user, METRICS, { id: rows.job.id })
    ).data?.trainingJob;
  expect(await read(a, "part-a")).toMatchObject({
    latestMetric: { step: 3 },
    metrics: [
      { step: 0, loss: 3 },
      { step: 1, loss: 9 },
      { step: 2, loss: 2.8 },
      { step: 3, loss: 2.6 },
    ],
  });
  expect((await read(b, "part-b"))?.metrics.map((m) => m.step)).toEqual([0, 1, 2, 3]);
  expect((await read(c, "part-c"))?.metrics.map((m) => m.step)).toEqual([0, 1, 2]);
  // Another user still sees nothing of a job that is not theirs.
  expect(await read(a, "part-b")).toBeFalsy();

  // Deleting a job still takes its points with it (the foreign key is kept).
  await sql(`DELETE FROM cloud_deployments WHERE job_id = '${c.job.id}'`);
  await sql(`DELETE FROM training_jobs WHERE id = '${c.job.id}'`);
  const [{ left }] = await sql<{ left: string }>(
    `SELECT count(*)::text AS left FROM training_metrics WHERE job_id = '${c.job.id}'`,
  );
  expect(left).toBe("0");
}, 60_000);
