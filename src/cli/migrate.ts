import "reflect-metadata";
import { ConfigError, loadConfig } from "../config/env";
import { openDatabase } from "../db/data-source";
import { ENTITIES } from "../server/entities";

/** `npm run migrate` applies pending migrations; `npm run migrate -- --revert` undoes the last one. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({
    entities: ENTITIES,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
  });
  try {
    if (process.argv.includes("--revert")) {
      await db.dataSource.undoLastMigration({ transaction: "each" });
      console.log("reverted the last migration");
    } else {
      const applied = await db.dataSource.runMigrations({ transaction: "each" });
      console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(", ")}` : "up to date");
    }
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
