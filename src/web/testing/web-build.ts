import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { buildWeb, isWebBuildCurrent } from "../build";

const LOCK = path.resolve(__dirname, "..", "..", "..", "dist", ".web-build.lock");

/**
 * Builds `dist/web` unless it already holds a build of the current sources (about 5 s when it must). Test
 * files running at once in several jest workers take turns through a lock folder.
 */
export async function ensureWebBuilt(): Promise<void> {
  if (await isWebBuildCurrent()) return;
  await acquireLock();
  try {
    if (!(await isWebBuildCurrent())) await buildWeb();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

async function acquireLock(): Promise<void> {
  const deadline = Date.now() + 120_000;
  await mkdir(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      await mkdir(LOCK);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    // A lock older than two minutes belongs to a run that died.
    const age = await stat(LOCK).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (age > 120_000) await rm(LOCK, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
