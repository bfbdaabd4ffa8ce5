import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { Client } from "pg";
import { openDatabase, openPglite, type Database } from "../../src/db/data-source";
import { ENTITIES } from "../../src/server/entities";
import { templateDatabase, testDatabaseName, withDatabase } from "./database-url";

/** Where a test's database lives: a fresh PostgreSQL database, or a fresh PGlite. `drop` removes it. */
export type TestDatabaseTarget = (
  { databaseUrl: string; pglite?: undefined } | { databaseUrl?: undefined; pglite: PGlite }
) & {
  drop(): Promise<void>;
};

export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);
export const usingRedis = (): boolean => Boolean(process.env.REDIS_URL);

/** Every database this test file made and has not dropped yet; `dropTestDatabases` (afterAll) drops them. */
const open = new Set<TestDatabaseTarget>();

/**
 * A fresh, migrated database: a clone of the template on PostgreSQL, a PGlite loaded from the migrated dump
 * otherwise.
 */
export async function freshDatabase(): Promise<TestDatabaseTarget> {
  const serverUrl = process.env.DATABASE_URL;
  let target: TestDatabaseTarget;
  if (serverUrl) {
    const name = testDatabaseName(randomBytes(4).toString("hex"));
    await adminQuery(serverUrl, `CREATE DATABASE "${name}" TEMPLATE "${templateDatabase()}"`);
    target = {
      databaseUrl: withDatabase(serverUrl, name),
      drop: async () => {
        open.delete(target);
        await adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      },
    };
  } else {
    const dump = process.env.TRAINGATE_TEST_PGLITE_DUMP;
    const pglite = await openPglite(undefined, dump ? new Blob([readFileSync(dump)]) : undefined);
    target = {
      pglite,
      drop: async () => {
        open.delete(target);
        if (!pglite.closed) await pglite.close();
      },
    };
  }
  open.add(target);
  return target;
}

/** A migrated database opened through TypeORM, for service-level tests; closing it drops it. */
export async function openTestDatabase(): Promise<Database & { drop(): Promise<void> }> {
  const target = await freshDatabase();
  const db = await openDatabase({
    entities: ENTITIES,
    databaseUrl: target.databaseUrl,
    pglite: target.pglite,
    migrate: true,
  });
  return {
    ...db,
    drop: async () => {
      await db.close();
      await target.drop();
    },
  };
}

export async function dropTestDatabases(): Promise<void> {
  for (const target of [...open]) await target.drop();
}

/** One statement on a fresh connection to `serverUrl` (CREATE/DROP DATABASE cannot run in a pool's session). */
export async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}
