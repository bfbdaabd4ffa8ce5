import { existsSync, writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLITE_SEED_FILE } from "../db/pglite-seed";

/** Part of `npm run build`: writes the empty-cluster seed new embedded databases start from. */
async function main(): Promise<void> {
  if (existsSync(PGLITE_SEED_FILE) && !process.argv.includes("--force")) return;
  const db = await PGlite.create();
  const dump = await db.dumpDataDir("gzip");
  await db.close();
  writeFileSync(PGLITE_SEED_FILE, Buffer.from(await dump.arrayBuffer()));
}

main().catch((error: unknown) => {
  console.error("could not write the PGlite seed (new embedded databases will run initdb instead):", error);
});
