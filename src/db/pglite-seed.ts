import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * A freshly initialised, empty PGlite cluster, made once at build time (`npm run build`). A new embedded
 * database is unpacked from it in about 1 s instead of running initdb in WASM (about 3.5 s), which is most of
 * the first `npm start`. Without the file, PGlite simply runs initdb.
 */
export const PGLITE_SEED_FILE = path.resolve(__dirname, "../../pglite-seed.tgz");

export function pgliteSeed(dataDir: string): Blob | undefined {
  if (existsSync(path.join(dataDir, "PG_VERSION")) || !existsSync(PGLITE_SEED_FILE)) return undefined;
  return new Blob([readFileSync(PGLITE_SEED_FILE)]);
}
