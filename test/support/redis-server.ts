import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { untilEvent, untilLine } from "./eventually";

/** A redis-server of a test's own: the machine's shared one is never stopped. */
export interface RedisServer {
  readonly port: number;
  readonly child: ChildProcess;
  /** Kills it with SIGKILL (an outage, not a shutdown) and resolves once it has exited. */
  kill(): Promise<void>;
}

/** Throws at once, with the fix, when redis-server is not installed. */
export function requireRedisServer(): void {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error("redis-server is needed for the Redis fault tests: apt-get install -y redis-server");
  }
}

/**
 * Starts redis-server on `port` (no persistence) and resolves once it logs "Ready to accept connections";
 * rejects with its output if it exits first or says nothing for 15 s.
 */
export async function startRedisServer(port: number): Promise<RedisServer> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    await untilLine(child.stdout, /Ready to accept connections/, `redis-server on port ${port} to be ready`, {
      timeoutMs: 15_000,
      child,
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // Its log keeps coming; read and drop it so a full pipe never stalls the server.
  child.stdout.resume();
  return {
    port,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = untilEvent(child, "exit", `redis-server on port ${port} to exit`);
      child.kill("SIGKILL");
      await exited;
    },
  };
}
