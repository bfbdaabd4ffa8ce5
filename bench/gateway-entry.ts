/**
 * The gateway as the benches run it: a process of its own, configured from the environment like `npm start`
 * (DATABASE_URL, REDIS_URL, PORT, JWT_SECRET, ENCRYPTION_KEY, LOG_LEVEL), plus bench-only tuning in
 * BENCH_GATEWAY_OPTIONS (JSON: `metricsRoutes`, `ingest`, `subscriptions`, as `createGateway` takes them, and
 * `background`). Background work stays off unless `background` is true: it calls the RunPod API, so only the bench
 * that points RUNPOD_API_URL at a simulator (bench/background.ts) turns it on.
 *
 * Prints "ready <url>" once it listens. SIGTERM/SIGINT close it and exit; so does losing the bench (IPC
 * disconnect). Over IPC the bench can ask for `process.memoryUsage()` (after a full garbage collection when node
 * runs with --expose-gc: the memory bench's optional forced-GC figure) and start/stop a V8 CPU profile around
 * exactly the window it measures. None of this changes the product code.
 */
import "reflect-metadata";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadConfig } from "../src/config/env";
import { createGateway, type GatewayOptions } from "../src/server/app";
import { createLogger } from "../src/server/logger";

type BenchGatewayOptions = Pick<GatewayOptions, "metricsRoutes" | "ingest" | "subscriptions" | "background">;

async function main(): Promise<void> {
  const config = loadConfig();
  const raw = process.env.BENCH_GATEWAY_OPTIONS;
  const extra = raw ? (JSON.parse(raw) as BenchGatewayOptions) : {};
  const gateway = await createGateway({
    config,
    logger: createLogger(config.logLevel),
    ...extra,
    background: extra.background === true,
  });
  const url = await gateway.listen(config.port, "127.0.0.1");
  process.stdout.write(`ready ${url}\n`);

  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", close);
  process.on("SIGINT", close);
  process.on("disconnect", close);
  let session: Session | undefined;
  process.on("message", (message: BenchMessage) => {
    void control(message).then((reply) => process.send?.(reply));
  });

  async function control(message: BenchMessage): Promise<object> {
    switch (message.type) {
      case "mem": {
        const collect = (globalThis as { gc?: () => void }).gc;
        if (message.gc && collect) collect();
        return { type: "mem", usage: process.memoryUsage(), gc: Boolean(message.gc && collect) };
      }
      case "profile-start":
        session = new Session();
        session.connect();
        await session.post("Profiler.enable");
        await session.post("Profiler.start");
        return { type: "profile-started" };
      case "profile-stop": {
        if (!session) return { type: "profile-saved", file: null };
        const { profile } = await session.post("Profiler.stop");
        writeFileSync(message.file, JSON.stringify(profile));
        session.disconnect();
        session = undefined;
        return { type: "profile-saved", file: message.file };
      }
    }
  }
}

type BenchMessage =
  { type: "mem"; gc?: boolean } | { type: "profile-start" } | { type: "profile-stop"; file: string };

main().catch((error: unknown) => {
  console.error("bench gateway failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
