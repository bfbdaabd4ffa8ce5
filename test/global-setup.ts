import "reflect-metadata";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { openDatabase, openPglite } from "../src/db/data-source";
import { ENTITIES } from "../src/server/entities";
import { runOf, templateDatabase, withDatabase } from "./support/database-url";

/**
 * Runs once before the suite. The migrations are applied once, and every test file starts from that result:
 * - with DATABASE_URL: a template database that each test file clones (CREATE DATABASE … TEMPLATE);
 * - without: a dump of a migrated PGlite that each test file loads (about 0.5 s instead of 3 s for initdb).
 * Databases left behind by runs that are no longer alive are dropped here; live runs' are left alone.
 */
export default async function globalSetup(): Promise<void> {
  process.env.TRAINGATE_TEST_RUN = String(process.pid);
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const admin = new Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      const existing = await admin.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'traingate_test_%'",
      );
      for (const { datname } of existing.rows) {
        const pid = runOf(datname);
        if (pid === undefined || !isAlive(pid))
          await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
      await admin.query(`CREATE DATABASE "${templateDatabase()}"`);
    } finally {
      await admin.end();
    }
    const db = await openDatabase({
      entities: ENTITIES,
      databaseUrl: withDatabase(databaseUrl, templateDatabase()),
      migrate: true,
    });
    await db.close();
    return;
  }
  const pglite = await openPglite();
  const db = await openDatabase({ entities: ENTITIES, pglite, migrate: true });
  await db.close();
  const dump = await pglite.dumpDataDir("none");
  await pglite.close();
  const file = path.join(os.tmpdir(), `traingate-test-pglite-${process.pid}.tar`);
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  process.env.TRAINGATE_TEST_PGLITE_DUMP = file;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
