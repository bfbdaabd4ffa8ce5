import { rmSync } from "node:fs";
import { Client } from "pg";
import { templateDatabase } from "./support/database-url";

/** Drops what the global setup made: the template database, or the PGlite dump. */
export default async function globalTeardown(): Promise<void> {
  const dump = process.env.TRAINGATE_TEST_PGLITE_DUMP;
  if (dump) rmSync(dump, { force: true });
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) return;
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${templateDatabase()}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
