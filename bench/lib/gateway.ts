/**
 * Gateways for benches: bench/gateway-entry.ts in a child process, in production mode (PostgreSQL + Redis).
 */
import type { GatewayOptions } from "../../src/server/app";
import { startServer, type ChildHandle } from "./children";

export const BENCH_JWT_SECRET = "bench-secret-that-is-at-least-32-characters-long";
export const BENCH_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");

export type BenchGatewayOptions = Pick<GatewayOptions, "metricsRoutes" | "ingest" | "subscriptions">;

export function startGateway(
  label: string,
  databaseUrl: string,
  redisUrl: string,
  options: BenchGatewayOptions = {},
  nodeArgs: string[] = [],
  /** More environment for the child (e.g. a lifted per-user rate limit). */
  env: Record<string, string> = {},
): Promise<ChildHandle & { url: string }> {
  return startServer(
    label,
    "bench/gateway-entry.ts",
    {
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      PORT: "0",
      JWT_SECRET: BENCH_JWT_SECRET,
      ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
      LOG_LEVEL: "warn",
      BENCH_GATEWAY_OPTIONS: JSON.stringify(options),
      ...env,
    },
    nodeArgs,
  );
}

/** Starts a V8 CPU profile in the gateway child (bench/gateway-entry.ts); the returned function saves it. */
export async function startProfile(gateway: ChildHandle, file: string): Promise<() => Promise<string>> {
  await gateway.request({ type: "profile-start" }, "profile-started", 10_000);
  return async () => {
    await gateway.request({ type: "profile-stop", file }, "profile-saved", 60_000);
    return file;
  };
}

/** `process.memoryUsage()` of the gateway child, after a full GC when it runs with --expose-gc and `gc`. */
export async function memoryUsage(
  gateway: ChildHandle,
  gc: boolean,
): Promise<NodeJS.MemoryUsage & { gc: boolean }> {
  const reply = await gateway.request<{ type: string; usage: NodeJS.MemoryUsage; gc: boolean }>(
    { type: "mem", gc },
    "mem",
    30_000,
  );
  return { ...reply.usage, gc: reply.gc };
}
