/**
 * How a bench script runs: one async body, and cleanups (child processes, databases, sockets) that run however it
 * ends: normal return, a thrown error, or Ctrl-C / SIGTERM. Child processes are also killed from a synchronous
 * 'exit' handler, so nothing outlives the bench even when an async cleanup cannot run.
 */
import type { ChildProcess } from "node:child_process";

type Cleanup = () => Promise<void> | void;

const cleanups: { label: string; run: Cleanup }[] = [];
const children = new Set<{ child: ChildProcess; group: boolean }>();

/** Registers work to undo at the end (run last-in first-out). Returns a function that runs it early. */
export function onCleanup(label: string, run: Cleanup): () => Promise<void> {
  const entry = { label, run };
  cleanups.push(entry);
  return async () => {
    const index = cleanups.indexOf(entry);
    if (index < 0) return;
    cleanups.splice(index, 1);
    await entry.run();
  };
}

/** A child the 'exit' handler must kill if it is still alive (its whole process group when `group`). */
export function trackChild(child: ChildProcess, group = false): void {
  const entry = { child, group };
  children.add(entry);
  child.once("exit", () => children.delete(entry));
}

function killLeftovers(): void {
  for (const { child, group } of children) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(group ? -child.pid : child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const { label, run } = cleanups.pop()!;
    try {
      await run();
    } catch (error) {
      console.error(`cleanup "${label}" failed:`, error instanceof Error ? error.message : error);
    }
  }
}

/** Runs `body`, then every cleanup, then exits (1 when the body threw). */
export function runBench(name: string, body: () => Promise<void>): void {
  process.on("exit", killLeftovers);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      killLeftovers();
      process.exit(130);
    }
    stopping = true;
    console.error(`\n${name}: ${signal}, cleaning up`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  body()
    .then(
      () => 0,
      (error: unknown) => {
        console.error(`${name} failed:`, error instanceof Error ? (error.stack ?? error.message) : error);
        return 1;
      },
    )
    .then(async (code) => {
      await runCleanups();
      process.exit(code);
    })
    .catch(() => process.exit(1));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
