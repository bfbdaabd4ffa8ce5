import type { PGlite } from "@electric-sql/pglite";
import type { Logger } from "pino";
import { unreachableCallbackReason } from "../config/callback-url";
import { describeConfig, type Config } from "../config/env";
import { openDatabase, type Database } from "../db/data-source";
import { createRequestLimiter, type RequestLimiter } from "../limits/request-limiter";
import { createEventBus } from "../pubsub/create-event-bus";
import type { EventBus } from "../pubsub/event-bus";
import type { RunpodClient } from "../runpod/runpod-client";
import { RunpodGraphqlClient } from "../runpod/runpod-graphql-client";
import { ENTITIES } from "./entities";

/** What every part stands on: the database, the bus, the per-user request limit, RunPod. */
export interface Infrastructure {
  readonly db: Database;
  readonly bus: EventBus;
  readonly limiter: RequestLimiter;
  readonly runpod: RunpodClient;
}

/**
 * Logs what the configuration means for this start (generated secrets, PUBLIC_URL unreachable from a pod) and
 * returns why no pod could report back, or undefined when they can. A simulated upstream runs its pods on this
 * machine, so any address reaches them there.
 */
export function announceConfig(config: Config, logger: Logger): string | undefined {
  for (const generated of config.generatedSecrets) {
    logger.warn(`generated ${generated}: fine for a laptop; set it explicitly in production`);
  }
  logger.debug({ config: describeConfig(config) }, "configuration");
  if (config.simulatorTrainer === "real" && !config.runpodSimulator) {
    logger.warn(
      "RUNPOD_SIMULATOR_TRAINER=real is ignored without RUNPOD_SIMULATOR=true: only the built-in simulator runs " +
        "pods as local processes with the real trainer; set RUNPOD_SIMULATOR=true for that, or unset it",
    );
  }
  if (config.upstreamSimulated) return undefined;
  const reason = unreachableCallbackReason(config.publicUrl);
  if (reason === null) return undefined;
  const problem = `${config.publicUrl} cannot be reached from a pod: ${reason}`;
  logger.warn(
    { publicUrl: config.publicUrl },
    `PUBLIC_URL ${problem}: no RunPod pod can report back, so deployTraining is refused; set PUBLIC_URL to an address the pods can reach`,
  );
  return problem;
}

/** Opens the database (migrated), the bus and the request limiter, and makes the RunPod client. */
export async function openInfrastructure(
  config: Config,
  logger: Logger,
  options: { pglite?: PGlite; upstreamUrl?: string },
): Promise<Infrastructure> {
  const db = await openDatabase({
    entities: ENTITIES,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pglite: options.pglite,
    migrate: true,
  });
  let bus: EventBus;
  try {
    bus = await createEventBus(config.redisUrl, logger);
  } catch (error) {
    await db.close();
    throw error;
  }
  // Never throws: a Redis it cannot reach only means no limit until Redis is back.
  const limiter = await createRequestLimiter(
    { ratePerSecond: config.userRatePerSecond, burst: config.userRateBurst, redisUrl: config.redisUrl },
    logger.child({ component: "rate-limit" }),
  );
  const runpod = new RunpodGraphqlClient({
    url: options.upstreamUrl ?? config.runpodApiUrl,
    logger: logger.child({ component: "runpod" }),
  });
  return { db, bus, limiter, runpod };
}
