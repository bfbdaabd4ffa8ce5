import "reflect-metadata";
import { ConfigError, loadConfig } from "../config/env";
import { createLogger } from "./logger";
import { startGateway } from "./start";
import { installLastResortHandlers } from "./http-guard";

/** `npm start`: serve the gateway until SIGTERM/SIGINT, then drain and exit. */
async function main(): Promise<void> {
  const startedAt = process.hrtime.bigint();
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const gateway = await startGateway({ config, logger });
  const url = await gateway.listen();
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  logger.info(
    {
      url,
      mode: config.mode,
      database: gateway.db.kind,
      pubsub: config.redisUrl ? "redis" : "in-process",
      startupMs: Math.round(ms),
    },
    `TrainGate ready at ${url}/graphql (${config.mode} mode, ${Math.round(ms)} ms)`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms (SHUTDOWN_TIMEOUT_MS); exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  installLastResortHandlers(logger, stop);
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  console.error("TrainGate failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
