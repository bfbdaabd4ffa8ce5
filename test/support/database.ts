import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { Client } from "pg";
import { openDatabase, openPglite, type Database } from "../../src/db/data-source";
import { TEMPLATE_DATABASE, withDatabase } from "./database-url";

/** Where a test's database lives: a fresh PostgreSQL database, or a fresh PGlite. */
export type TestDatabaseTarget =
  { databaseUrl: string; pglite?: undefined } | { databaseUrl?: undefined; pglite: PGlite };

export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);
export const usingRedis = (): boolean => Boolean(process.env.REDIS_URL);

const cleanups: Array<() => Promise<void>> = [];

/**
 * A fresh, migrated database for one test file (or one test): a clone of the template on PostgreSQL, a
 * PGlite loaded from the migrated dump otherwise. Dropped when `dropTestDatabases` runs (in `afterAll`).
 */
export async function freshDatabase(): Promise<TestDatabaseTarget> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const name = `traingate_test_${process.pid}_${randomBytes(4).toString("hex")}`;
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DATABASE}"`);
    } finally {
      await admin.end();
    }
    cleanups.push(async () => {
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    });
    return { databaseUrl: withDatabase(serverUrl, name) };
  }
  const dump = process.env.TRAINGATE_TEST_PGLITE_DUMP;
  const pglite = await openPglite(undefined, dump ? new Blob([readFileSync(dump)]) : undefined);
  cleanups.push(async () => {
    if (!pglite.closed) await pglite.close();
  });
  return { pglite };
}

/** A migrated database opened through TypeORM, for service-level tests. */
export async function openTestDatabase(): Promise<Database> {
  const target = await freshDatabase();
  const db = await openDatabase({ ...target, migrate: true });
  cleanups.unshift(() => db.close());
  return db;
}

export async function dropTestDatabases(): Promise<void> {
  while (cleanups.length > 0) await cleanups.shift()!();
}
