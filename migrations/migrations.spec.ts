import { DataSource } from "typeorm";
import { dataSourceOptions } from "../src/db/data-source";
import { ENTITIES } from "../src/server/entities";
import { migrationDrift } from "../src/db/drift";
import { dropTestDatabases, freshDatabase } from "../test/support/database";
import { MIGRATIONS } from ".";

const TABLES = [
  "artifacts",
  "budget_alerts",
  "cloud_deployments",
  "cost_days",
  "cost_user_created_days",
  "cost_user_days",
  "cost_windows",
  "deployment_events",
  "persisted_documents",
  "provider_secrets",
  "training_alerts",
  "training_configs",
  "training_jobs",
  "training_metrics",
  "users",
  "webhook_deliveries",
  "webhook_outbox",
  "webhooks",
];

/** A database with no tables at all: the migrations run from scratch here. */
async function emptyDataSource(): Promise<DataSource> {
  const target = await freshDatabase();
  const ds = new DataSource(dataSourceOptions({ ...target, entities: ENTITIES }));
  await ds.initialize();
  // The template is already migrated; undo everything so the migrations are tested from an empty schema.
  for (;;) {
    const [table] = await ds.query<{ present: boolean }[]>(
      `SELECT to_regclass('typeorm_migrations') IS NOT NULL AS present`,
    );
    if (!table.present) break;
    const [executed] = await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM typeorm_migrations`);
    if (executed.n === 0) break;
    await ds.undoLastMigration({ transaction: "each" });
  }
  return ds;
}

async function tables(ds: DataSource): Promise<string[]> {
  const rows: { table_name: string }[] = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'typeorm_migrations' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

afterAll(dropTestDatabases);

describe("migrations", () => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await emptyDataSource();
  });
  afterAll(async () => {
    await ds.destroy();
  });

  it("start from an empty database", async () => {
    expect(await tables(ds)).toEqual([]);
  });

  it("build every table and leave no drift from the entities", async () => {
    const applied = await ds.runMigrations({ transaction: "each" });
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => new m().name));
    expect(await tables(ds)).toEqual(TABLES);
    expect(await migrationDrift(ds)).toEqual([]);
    expect(await ds.showMigrations()).toBe(false);
  });

  it("revert each migration with down(), back to an empty database, and apply again", async () => {
    for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: "each" });
    expect(await tables(ds)).toEqual([]);
    await ds.runMigrations({ transaction: "each" });
    expect(await tables(ds)).toEqual(TABLES);
  });

  it("enforce the unique constraints the design names", async () => {
    const indexes: { indexname: string }[] = await ds.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE 'CREATE UNIQUE%' ORDER BY 1`,
    );
    expect(indexes.map((i) => i.indexname)).toEqual(
      expect.arrayContaining([
        "pk_budget_alerts",
        "pk_training_metrics",
        "uq_cloud_deployments_job",
        "uq_cloud_deployments_user_idempotency_key",
        "uq_provider_secrets_user_provider",
      ]),
    );
  });
});
