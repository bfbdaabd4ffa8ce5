/**
 * A PostgreSQL database of the bench's own, created and migrated for one run and dropped at its end.
 */
import { randomBytes } from "node:crypto";
import { newJobToken } from "../../src/auth/job-token";
import { openDatabase, type Database } from "../../src/db/data-source";
import { ENTITIES } from "../../src/server/entities";
import { adminQuery } from "../../test/support/database";
import { withDatabase } from "../../test/support/database-url";
import { newDeployment, newTrainingConfig } from "../../test/support/factories";
import { onCleanup } from "./lifecycle";

/** `--pg` and `--redis`, which every bench that needs the services takes, with this machine's defaults. */
export const SERVICE_OPTIONS = {
  pg: { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
  redis: { type: "string", default: "redis://127.0.0.1:6379" },
} as const;

export interface BenchDatabase {
  name: string;
  url: string;
  db: Database;
}

/** `traingate_bench_<tag>_<time>_<random>`, migrated; dropped (WITH FORCE) when the bench ends. */
export async function createBenchDatabase(serverUrl: string, tag: string): Promise<BenchDatabase> {
  const name = `traingate_bench_${tag}_${Date.now()}_${randomBytes(3).toString("hex")}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"`);
  onCleanup(`drop database ${name}`, () =>
    adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  );
  const url = withDatabase(serverUrl, name);
  const db = await openDatabase({ entities: ENTITIES, databaseUrl: url, migrate: true, poolSize: 4 });
  onCleanup(`close ${name}`, () => db.close());
  return { name, url, db };
}

export interface BenchJob {
  userId: string;
  jobId: string;
  deploymentId: string;
  token: string;
}

/** `count` running jobs (each with its deployment and its own job token), owned by `userOf(i)`. */
export async function createJobs(
  db: Database,
  count: number,
  userOf: (index: number) => string,
): Promise<BenchJob[]> {
  const ds = db.dataSource;
  const configs = new Map<string, Awaited<ReturnType<typeof newTrainingConfig>>>();
  const jobs: BenchJob[] = [];
  for (let i = 0; i < count; i++) {
    const userId = userOf(i);
    let config = configs.get(userId);
    if (!config) {
      config = await newTrainingConfig(ds, userId);
      configs.set(userId, config);
    }
    const rows = await newDeployment(ds, userId, {}, config);
    jobs.push({ userId, jobId: rows.job.id, deploymentId: rows.deployment.id, token: rows.jobToken });
  }
  return jobs;
}

/**
 * Many jobs fast: one factory-made job per user is copied with SQL (`perUser` jobs for each of `users`), all
 * sharing one job token. For benches that need thousands of jobs and do not care whose token is whose.
 */
export async function createJobsInBulk(
  db: Database,
  users: readonly string[],
  perUser: number,
): Promise<{ jobsByUser: Map<string, string[]>; token: string }> {
  const ds = db.dataSource;
  const { token, hash } = newJobToken();
  const template = await createJobs(db, 1, () => users[0]);
  await ds.query(`UPDATE training_jobs SET job_token_hash = $1 WHERE id = $2`, [hash, template[0].jobId]);
  await ds.query(`INSERT INTO users (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [users]);
  // Every user gets `perUser` jobs (the template user one fewer: it has the template), each with a deployment.
  await ds.query(
    `WITH src AS (SELECT * FROM training_jobs WHERE id = $1),
          wanted AS (
            SELECT u.id AS user_id, g.i
            FROM unnest($2::text[]) AS u(id) CROSS JOIN generate_series(1, $3::int) AS g(i)
            WHERE NOT (u.id = (SELECT user_id FROM src) AND g.i = 1)
          ),
          jobs AS (
            INSERT INTO training_jobs (id, user_id, training_config_id, model_name, dataset_url, status,
                                       job_token_hash, config, progress)
            SELECT gen_random_uuid(), w.user_id, NULL, s.model_name, s.dataset_url, s.status, s.job_token_hash,
                   s.config, NULL
            FROM wanted w CROSS JOIN src s
            RETURNING id, user_id
          )
     INSERT INTO cloud_deployments (user_id, job_id, platform, status, gpu_type, gpu_count, cloud_type, config,
                                    cost_per_hour, budget_limit)
     SELECT j.user_id, j.id, d.platform, d.status, d.gpu_type, d.gpu_count, d.cloud_type, d.config,
            d.cost_per_hour, d.budget_limit
     FROM jobs j CROSS JOIN (SELECT * FROM cloud_deployments WHERE job_id = $1) d`,
    [template[0].jobId, users, perUser],
  );
  const rows = await ds.query<{ user_id: string; id: string }[]>(
    `SELECT user_id, id FROM training_jobs WHERE user_id = ANY($1::text[]) ORDER BY user_id, created_at, id`,
    [users],
  );
  const jobsByUser = new Map<string, string[]>();
  for (const row of rows) {
    const list = jobsByUser.get(row.user_id) ?? [];
    list.push(row.id);
    jobsByUser.set(row.user_id, list);
  }
  return { jobsByUser, token };
}
