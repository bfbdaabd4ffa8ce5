import "reflect-metadata";
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { PGlite } from "@electric-sql/pglite";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { createTokenVerifier } from "../auth/jwt";
import { contributions } from "../composition/gateway-module";
import type { Config } from "../config/env";
import type { Database } from "../db/data-source";
import type { SupervisorOptions } from "../supervision/pod-supervisor";
import type { CallbackOptions } from "../metrics/callback-handler";
import type { IngestOptions } from "../metrics/metric-ingest.service";
import type { MetricStreamOptions } from "../metrics/metric-stream";
import type { EventBus } from "../pubsub/event-bus";
import { LiveStreams, type LiveStreamOptions } from "../pubsub/live-streams";
import type { RunpodClient } from "../runpod/runpod-client";
import { startApollo } from "./apollo";
import { BackgroundWorker } from "./background";
import { healthRoutes } from "./health-routes";
import { createHttpFront, listen, mountExpressRoutes } from "./http-front";
import { announceConfig, openInfrastructure } from "./infrastructure";
import { createLeaderLock } from "./leader";
import { loaderSource } from "./loaders";
import { createLogger } from "./logger";
import { createModules, type Services } from "./modules";
import { createPersistedQueries } from "./persisted-queries";
import { createGatewayMetrics } from "./prometheus";
import { createContextFactory } from "./request-context";
import { buildGatewaySchema, ResolverRegistry } from "./schema";
import { shutdownSequence } from "./shutdown";
import { attachWebSocketServer } from "./websocket";
import type { WebhookTuning } from "../webhooks/webhooks.module";

export type { Services } from "./modules";

export interface GatewayOptions {
  config: Config;
  logger?: Logger;
  /** An open PGlite to use in embedded mode (tests boot one from a migrated snapshot). */
  pglite?: PGlite;
  /**
   * Run the background work (the pod supervisor, webhook delivery, artifact retention) on a timer. Default true;
   * tests drive it by hand.
   */
  background?: boolean;
  /** Tuning of the pod supervisor (tests shorten the orphan grace period). */
  supervisor?: SupervisorOptions;
  /**
   * The RunPod endpoint to use instead of `RUNPOD_API_URL` (the built-in simulator, which the entry points
   * start: see start.ts), closed with the gateway.
   */
  upstream?: { url: string; close(): Promise<void> };
  ingest?: IngestOptions;
  metricsRoutes?: CallbackOptions;
  /** Limits of the live streams: per user, per subscriber's backlog, and the replay's page size. */
  subscriptions?: LiveStreamOptions & MetricStreamOptions;
  /** Webhook delivery's retry schedule, lease and poll interval (tests shorten them). */
  webhooks?: WebhookTuning;
}

export interface Gateway {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly bus: EventBus;
  readonly services: Services;
  readonly schema: GraphQLSchema;
  readonly httpServer: Server;
  readonly runpod: RunpodClient;
  readonly background: BackgroundWorker;
  /** Starts listening; resolves with the base URL (`http://host:port`). */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, drains requests and sockets, then closes the bus and the database. */
  close(): Promise<void>;
}

/** Composes the domains' modules over the infrastructure and serves them. Nothing listens until `listen`. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const callbackUnreachable = announceConfig(config, logger);
  const infrastructure = await openInfrastructure(config, logger, {
    pglite: options.pglite,
    upstreamUrl: options.upstream?.url,
  });
  const { db, bus, runpod } = infrastructure;
  const streams = new LiveStreams(bus, options.subscriptions);
  // The gauges read the services at scrape time, so the registry can exist before them.
  const prometheus = createGatewayMetrics({
    db: db.dataSource,
    openSubscriptions: () => streams.open,
    ingestBacklog: () => services.ingest.backlog,
  });
  const verifyToken = createTokenVerifier(config.jwt);
  const { modules, services } = await createModules({
    config,
    supervisor: options.supervisor,
    ingest: options.ingest,
    metricsRoutes: options.metricsRoutes,
    infrastructure,
    logger,
    streams,
    prometheus,
    verifyToken,
    callbackUnreachable,
    metricStream: options.subscriptions,
    webhooks: options.webhooks,
  });
  const resolvers = new ResolverRegistry(contributions(modules, "resolvers"));
  const schema = await buildGatewaySchema(resolvers);
  const contextFor = createContextFactory({
    verifyToken,
    limiter: infrastructure.limiter,
    limits: { ratePerSecond: config.userRatePerSecond, burst: config.userRateBurst },
    users: services.users,
    loaders: loaderSource(contributions(modules, "loaders")),
    resolvers,
  });
  const { app, httpServer } = createHttpFront(logger, contributions(modules, "routes"));
  const persistedQueries = await createPersistedQueries(config, db.dataSource, logger);
  const webSockets = attachWebSocketServer({
    httpServer,
    schema,
    logger,
    verifyToken,
    contextFor: (authorization) => contextFor(authorization, randomUUID(), false),
    safelist: persistedQueries.safelist,
  });
  const apollo = await startApollo({
    schema,
    httpServer,
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    persistedQueries: persistedQueries.apollo,
    drainWebSockets: () => webSockets.dispose(),
  });
  mountExpressRoutes(app, {
    handlers: [
      healthRoutes({ db: db.dataSource, bus, registry: prometheus.registry }),
      ...contributions(modules, "pages"),
    ],
    apollo,
    contextFor,
    logger,
    guards: persistedQueries.safelist ? [persistedQueries.safelist.httpGuard()] : [],
  });
  const background = new BackgroundWorker(
    createLeaderLock(config.databaseUrl, logger),
    contributions(modules, "background"),
    logger.child({ component: "background" }),
    prometheus.recordBackgroundRun,
  );
  return {
    config,
    logger,
    db,
    bus,
    services,
    schema,
    httpServer,
    runpod,
    background,
    listen: (port = config.port, host = config.host) =>
      listen(httpServer, port, host, () => options.background !== false && background.start()),
    close: shutdownSequence({
      background,
      apollo,
      httpServer,
      modules,
      infrastructure,
      persistedQueries,
      upstream: options.upstream,
    }),
  };
}
