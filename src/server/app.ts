import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, HeaderMap } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import type { PGlite } from "@electric-sql/pglite";
import express, { type NextFunction, type Request, type Response } from "express";
import { GraphQLError, OperationTypeNode, type GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { bearerToken, createTokenVerifier, TokenError, type TokenVerifier } from "../auth/jwt";
import type { GatewayContext, Loaders } from "../auth/context";
import { unreachableCallbackReason } from "../config/callback-url";
import { describeConfig, type Config } from "../config/env";
import { HubModelInfoClient } from "../hub/hub-model-info";
import { ErrorCode, SERVICE_RETRY_AFTER_SECONDS, serviceUnavailable } from "../errors/app-error";
import { isDatabaseUnavailable } from "../db/unavailable";
import { BudgetWatchdog } from "../costs/budget-watchdog";
import { CostReportService } from "../costs/cost-report.service";
import { CostResolver } from "../costs/cost.resolver";
import { openDatabase, type Database } from "../db/data-source";
import { DeploymentQueryService } from "../deployments/deployment-query.service";
import { DeploymentReconciler, type ReconcilerOptions } from "../deployments/deployment-reconciler";
import { DeploymentService } from "../deployments/deployment.service";
import { GpuOfferService } from "../runpod/gpu-offer.service";
import type { RunpodClient } from "../runpod/runpod-client";
import { RunpodGraphqlClient } from "../runpod/runpod-graphql-client";
import {
  startRunpodSimulator,
  type RunpodSimulator,
  type RunpodSimulatorOptions,
} from "../runpod-sim/runpod-simulator";
import { ArtifactDownloadHandler } from "../artifacts/artifact-download.handler";
import { createArtifactStore } from "../artifacts/artifact-store";
import { ArtifactUploadHandler } from "../artifacts/artifact-upload.handler";
import { ArtifactResolver } from "../artifacts/artifact.resolver";
import { ArtifactService } from "../artifacts/artifact.service";
import { BackgroundWorker } from "./background";
import { createLeaderLock } from "./leader";
import { DeploymentResolver } from "../deployments/deployment.resolver";
import { TrainingJobResolver } from "../jobs/training-job.resolver";
import { TrainingJobService } from "../jobs/training-job.service";
import { MetricQueryService } from "../metrics/metric-query.service";
import { JobAccessCache } from "../metrics/job-access";
import { MetricIngestService, type IngestOptions } from "../metrics/metric-ingest.service";
import { CallbackHandler, type CallbackOptions } from "../metrics/callback-handler";
import { SubscriptionService, type SubscriptionOptions } from "./subscription.service";
import { createEventBus } from "../pubsub/create-event-bus";
import type { EventBus } from "../pubsub/event-bus";
import { topics } from "../pubsub/topics";
import { ProviderSecretResolver } from "../secrets/provider-secret.resolver";
import { ProviderSecretService } from "../secrets/provider-secret.service";
import { SecretBox } from "../secrets/secret-box";
import { TrainingConfigResolver } from "../training-configs/training-config.resolver";
import { TrainingConfigService } from "../training-configs/training-config.service";
import { UserResolver } from "../users/user.resolver";
import { UserService } from "../users/user.service";
import { formatError, INTERNAL_MESSAGE } from "./format-error";
import { unwrapResolverError } from "@apollo/server/errors";
import { createLoaders } from "./loaders";
import { createLogger } from "./logger";
import { createGatewayMetrics } from "./prometheus";
import { DEFAULT_QUERY_LIMITS, queryLimitRules } from "./query-limits";
import { buildGatewaySchema, type ResolverInstances } from "./schema";
import { SubscriptionResolver } from "./subscription.resolver";
import { attachWebSocketServer } from "./websocket";
import { guardRequests, requestIdOf } from "./http-guard";
import { mountWebRoutes } from "../web/routes";

export interface GatewayOptions {
  config: Config;
  logger?: Logger;
  /** An open PGlite to use in embedded mode (tests boot one from a migrated snapshot). */
  pglite?: PGlite;
  /** Run the background work (status sync, reaper, watchdog) on a timer. Default true; tests drive it by hand. */
  background?: boolean;
  /** Tuning of the reconciler (tests shorten the orphan grace period). */
  reconciler?: ReconcilerOptions;
  /** Options of the built-in simulator when RUNPOD_SIMULATOR=true. */
  simulator?: RunpodSimulatorOptions;
  ingest?: IngestOptions;
  metricsRoutes?: CallbackOptions;
  subscriptions?: SubscriptionOptions;
}

/** The services, for callers that drive the gateway in-process (the demo, tests, CLIs). */
export interface Services {
  users: UserService;
  secrets: ProviderSecretService;
  trainingConfigs: TrainingConfigService;
  deploymentQueries: DeploymentQueryService;
  deployments: DeploymentService;
  reconciler: DeploymentReconciler;
  gpuOffers: GpuOfferService;
  jobs: TrainingJobService;
  metricQueries: MetricQueryService;
  ingest: MetricIngestService;
  jobAccess: JobAccessCache;
  subscriptions: SubscriptionService;
  costReports: CostReportService;
  watchdog: BudgetWatchdog;
  artifacts: ArtifactService;
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
  /** The built-in RunPod simulator, when RUNPOD_SIMULATOR=true. */
  readonly simulator?: RunpodSimulator;
  readonly background: BackgroundWorker;
  /** Starts listening; resolves with the base URL (`http://host:port`). */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, drains requests and sockets, then closes the bus and the database. */
  close(): Promise<void>;
}

/**
 * Why the pods could not reach PUBLIC_URL, or undefined when they can. A simulated upstream runs its pods on
 * this machine, so any address reaches them there.
 */
function callbackProblem(config: Config): string | undefined {
  if (config.upstreamSimulated) return undefined;
  const reason = unreachableCallbackReason(config.publicUrl);
  return reason === null ? undefined : `${config.publicUrl} cannot be reached from a pod: ${reason}`;
}

/** Wires every part of the gateway together. Nothing listens until `listen`. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  for (const generated of config.generatedSecrets) {
    logger.warn(`generated ${generated}: fine for a laptop; set it explicitly in production`);
  }
  logger.debug({ config: describeConfig(config) }, "configuration");
  const callbackUnreachable = callbackProblem(config);
  if (callbackUnreachable) {
    logger.warn(
      { publicUrl: config.publicUrl },
      `PUBLIC_URL ${callbackUnreachable}: no RunPod pod can report back, so deployTraining is refused; set PUBLIC_URL to an address the pods can reach`,
    );
  }

  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pglite: options.pglite,
    migrate: true,
  });
  let bus: EventBus;
  let simulator: RunpodSimulator | undefined;
  try {
    bus = await createEventBus(config.redisUrl, logger);
    if (config.runpodSimulator) {
      simulator = await startRunpodSimulator({
        speedFactor: config.simulatorSpeed,
        logger: logger.child({ component: "runpod-simulator" }),
        ...options.simulator,
      });
      logger.info({ url: simulator.url, speedFactor: simulator.speedFactor }, "RunPod simulator started");
      if (config.simulatorTrainer === "real") {
        logger.warn(
          "RUNPOD_SIMULATOR_TRAINER=real is not implemented yet: simulated pods run the simulated trainer",
        );
      }
    }
  } catch (error) {
    await db.close();
    throw error;
  }
  const runpod: RunpodClient = new RunpodGraphqlClient({
    url: simulator?.url ?? config.runpodApiUrl,
    logger: logger.child({ component: "runpod" }),
  });

  const ds = db.dataSource;
  const secrets = new ProviderSecretService(ds, new SecretBox(config.encryptionKeys));
  const trainingConfigs = new TrainingConfigService(ds);
  const deploymentQueries = new DeploymentQueryService(ds);
  const gpuOffers = new GpuOfferService(runpod);
  const deployments = new DeploymentService(
    ds,
    runpod,
    gpuOffers,
    secrets,
    trainingConfigs,
    deploymentQueries,
    bus,
    logger.child({ component: "deployments" }),
    {
      metricsApiUrl: config.metricsApiUrl,
      defaultImage: config.trainerImage,
      terminateAfterGraceSeconds: Math.ceil(config.watchdogIntervalMs / 1000),
      callbackUnreachable,
      modelSizes: new HubModelInfoClient({
        endpoint: config.hubEndpoint,
        logger: logger.child({ component: "hub" }),
      }),
    },
  );
  const reconciler = new DeploymentReconciler(
    ds,
    runpod,
    secrets,
    deployments,
    logger.child({ component: "reconciler" }),
    { podStartTimeoutMs: config.podStartTimeoutSeconds * 1000, ...options.reconciler },
  );
  const watchdog = new BudgetWatchdog(
    ds,
    runpod,
    secrets,
    deployments,
    bus,
    logger.child({ component: "watchdog" }),
    config.watchdogIntervalMs,
  );
  // However a run ends for its budget, its owner gets the STOPPED alert.
  deployments.onFinished(async (deployment) => {
    await watchdog.budgetStopped(deployment);
  });
  const jobs = new TrainingJobService(ds);
  // The gauges read the services at scrape time, so the registry can exist before them.
  const prometheus = createGatewayMetrics({
    db: ds,
    openSubscriptions: () => services.subscriptions.open,
    ingestBacklog: () => services.ingest.backlog,
  });
  const services: Services = {
    users: new UserService(ds),
    secrets,
    trainingConfigs,
    deploymentQueries,
    deployments,
    reconciler,
    gpuOffers,
    jobs,
    metricQueries: new MetricQueryService(ds),
    ingest: new MetricIngestService(ds, bus, logger.child({ component: "ingest" }), {
      onCommitted: (points, seconds) => {
        prometheus.pointsIngested.inc(points);
        prometheus.ingestWriteSeconds.observe(seconds);
      },
      ...options.ingest,
    }),
    jobAccess: new JobAccessCache(ds),
    subscriptions: new SubscriptionService(ds, bus, jobs, deploymentQueries, options.subscriptions),
    costReports: new CostReportService(ds),
    watchdog,
    artifacts: new ArtifactService(
      ds,
      createArtifactStore(ds, config.mode, config.dataDir),
      {
        maxBytes: config.artifactMaxBytes,
        publicUrl: config.publicUrl,
        signingSecret: config.encryptionKeys[0].key,
        retentionDays: config.artifactRetentionDays,
      },
      logger.child({ component: "artifacts" }),
    ),
  };
  // The callback routes cache each job's state for a moment; every change made here, or on another replica,
  // drops it, so a pod's next post sees a stop at once.
  deployments.onChanged((deployment) => services.jobAccess.invalidate(deployment.jobId));
  await bus.listen(topics.jobAccessChanged, ({ jobId }) => services.jobAccess.invalidate(jobId));
  const background = new BackgroundWorker(
    createLeaderLock(config.databaseUrl, logger),
    [
      { name: "reconcile", intervalMs: config.syncIntervalMs, run: () => reconciler.tick() },
      { name: "budget-watchdog", intervalMs: config.watchdogIntervalMs, run: () => watchdog.tick() },
      { name: "artifact-retention", intervalMs: 3_600_000, run: () => services.artifacts.sweep() },
    ],
    logger.child({ component: "background" }),
    (task, outcome) => prometheus.backgroundRuns.inc({ task, outcome }),
  );
  const resolvers: ResolverInstances = new Map<Parameters<ResolverInstances["set"]>[0], object>([
    [UserResolver, new UserResolver(services.users)],
    [ProviderSecretResolver, new ProviderSecretResolver(services.secrets)],
    [TrainingConfigResolver, new TrainingConfigResolver(services.trainingConfigs)],
    [
      DeploymentResolver,
      new DeploymentResolver(services.deploymentQueries, services.deployments, services.gpuOffers),
    ],
    [TrainingJobResolver, new TrainingJobResolver(services.jobs, services.metricQueries)],
    [CostResolver, new CostResolver(services.costReports)],
    [SubscriptionResolver, new SubscriptionResolver()],
    [ArtifactResolver, new ArtifactResolver(services.artifacts)],
  ]);
  const schema = await buildGatewaySchema(resolvers);
  const verifyToken = createTokenVerifier(config.jwt);

  /** The context of one operation, from the `Authorization` value it came with. */
  const contextFor = async (authorization: string | undefined, requestId: string, cache: boolean) => {
    // Loaders are made on first use: most subscriptions (and many queries) never resolve a relation.
    let loaders: Loaders | undefined;
    const context: GatewayContext = {
      requestId,
      get loaders() {
        return (loaders ??= createLoaders(ds, services.metricQueries, { cache }));
      },
      subscriptions: services.subscriptions,
    };
    const principal = await authenticate(verifyToken, authorization);
    if (principal.userId) {
      await services.users.ensure(principal.userId).catch((error: unknown) => {
        throw isDatabaseUnavailable(error) ? serviceUnavailableError() : error;
      });
      context.userId = principal.userId;
    } else {
      context.authError = principal.error;
    }
    return context;
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);
  const callbacks = new CallbackHandler(
    {
      access: services.jobAccess,
      ingest: services.ingest,
      deployments,
      logger: logger.child({ component: "callbacks" }),
    },
    {
      onAnswer: (route, status) => prometheus.callbacks.inc({ route, status: String(status) }),
      ...options.metricsRoutes,
    },
  );
  const artifactUploads = new ArtifactUploadHandler({
    access: services.jobAccess,
    artifacts: services.artifacts,
    logger: logger.child({ component: "artifact-uploads" }),
  });
  const artifactDownloads = new ArtifactDownloadHandler({
    artifacts: services.artifacts,
    verifyToken,
    logger: logger.child({ component: "artifact-downloads" }),
  });
  // The pods' callbacks and the artifact routes are served before Express sees the request (see
  // CallbackHandler; artifact bodies stream, so no body parser may touch them); the rest is Express's.
  // Every request enters through one guard: nothing a request does can throw past it into the process.
  const httpServer = createServer(
    guardRequests(logger, (req, res) => {
      if (
        callbacks.handle(req, res) ||
        artifactUploads.handle(req, res) ||
        artifactDownloads.handle(req, res)
      )
        return;
      app(req, res);
    }),
  );

  app.use((req: Request, res: Response, next: NextFunction) => {
    const requestId = requestIdOf(req);
    res.setHeader("x-request-id", requestId);
    res.locals.requestId = requestId;
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/metrics", async (_req, res) => {
    res.setHeader("content-type", prometheus.registry.contentType);
    res.send(await prometheus.registry.metrics());
  });
  app.get("/readyz", async (_req, res) => {
    const [database, pubsub] = await Promise.all([
      ds
        .query("SELECT 1")
        .then(() => true)
        .catch(() => false),
      bus.ping(),
    ]);
    res.status(database && pubsub ? 200 : 503).json({
      status: database && pubsub ? "ready" : "not ready",
      database: database ? "ok" : "unreachable",
      pubsub: pubsub ? "ok" : "unreachable",
    });
  });

  mountWebRoutes(app, { playgroundEnabled: config.playgroundEnabled });

  const wsCleanup = attachWebSocketServer({
    httpServer,
    schema,
    logger,
    verifyToken,
    contextFor: (authorization) => contextFor(authorization, randomUUID(), false),
  });

  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: true,
    // main.ts owns SIGTERM/SIGINT and closes everything in order; Apollo's own handler would stop it twice.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    persistedQueries: false,
    includeStacktraceInErrorResponses: false,
    validationRules: queryLimitRules(DEFAULT_QUERY_LIMITS),
    parseOptions: { maxTokens: DEFAULT_QUERY_LIMITS.maxTokens },
    // Unexpected errors are logged, and given the request id, by the plugin below, which knows the request.
    formatError: (formatted, error) => formatError(formatted, error),
    logger: {
      debug: (message: string) => logger.debug(message),
      info: (message: string) => logger.info(message),
      warn: (message: string) => logger.warn(message),
      error: (message: string) => logger.error(message),
    },
    plugins: [
      // In-flight requests get most of the shutdown time; what is still open after that is cut.
      ApolloServerPluginDrainHttpServer({
        httpServer,
        stopGracePeriodMillis: Math.max(500, config.shutdownTimeoutMs - 2_000),
      }),
      ApolloServerPluginLandingPageDisabled(),
      { serverWillStart: () => Promise.resolve({ drainServer: () => wsCleanup.dispose() }) },
      {
        requestDidStart: () =>
          Promise.resolve({
            didEncounterErrors: ({ errors, contextValue }) => {
              for (const error of errors) {
                const original = unwrapResolverError(error);
                if (isDatabaseUnavailable(original)) {
                  logger.warn(
                    { err: (original as Error).message, requestId: contextValue.requestId },
                    "database unreachable",
                  );
                } else if (formatError(error.toJSON(), error).message === INTERNAL_MESSAGE) {
                  logger.error(
                    { err: original, requestId: contextValue.requestId, path: error.path },
                    "unexpected error",
                  );
                }
              }
              return Promise.resolve();
            },
            willSendResponse: ({ response, contextValue }) => {
              if (response.body.kind === "single") {
                const errors = response.body.singleResult.errors ?? [];
                if (errors.some((error) => error.extensions?.code === ErrorCode.SERVICE_UNAVAILABLE)) {
                  response.http.status = 503;
                  response.http.headers.set("retry-after", String(SERVICE_RETRY_AFTER_SECONDS));
                }
                for (const error of errors) {
                  if (error.message === INTERNAL_MESSAGE) {
                    Object.assign(error, {
                      message: `${INTERNAL_MESSAGE} (request ${contextValue.requestId})`,
                      extensions: { ...error.extensions, requestId: contextValue.requestId },
                    });
                  }
                }
              }
              return Promise.resolve();
            },
          }),
      },
      // No HTTP caching of GraphQL answers is offered, so the per-field cache-control bookkeeping is skipped.
      ApolloServerPluginCacheControlDisabled(),
      {
        // A subscription sent over HTTP would fail deep inside execution; say plainly where subscriptions live.
        requestDidStart: () =>
          Promise.resolve({
            didResolveOperation: ({ operation }) => {
              if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
                throw new GraphQLError(
                  "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP",
                  { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } },
                );
              }
              return Promise.resolve();
            },
          }),
      },
    ],
  });
  await apollo.start();

  app.use(
    "/graphql",
    express.json({ limit: "1mb" }),
    expressMiddleware(apollo, {
      context: ({ req, res }) =>
        contextFor(req.header("authorization"), String(res.locals.requestId ?? randomUUID()), true),
    }),
  );

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: "not found" });
  });
  app.use(
    (
      error: Error & { status?: number; type?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      const status = error.status ?? 500;
      if (status >= 500)
        logger.error({ err: error, requestId: res.locals.requestId as string | undefined }, "request failed");
      res.status(status).json({
        error:
          error.type === "entity.too.large"
            ? "request body too large"
            : error.type === "entity.parse.failed"
              ? "malformed JSON body"
              : status >= 500
                ? "internal server error"
                : error.message,
      });
    },
  );

  let closed = false;
  return {
    config,
    logger,
    db,
    bus,
    services,
    schema,
    httpServer,
    runpod,
    simulator,
    background,
    listen: (port = config.port, host = config.host) =>
      new Promise((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(port, host, () => {
          httpServer.off("error", reject);
          if (options.background !== false) background.start();
          const address = httpServer.address() as AddressInfo;
          const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host;
          resolve(`http://${shownHost}:${address.port}`);
        });
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await background.stop();
      await apollo.stop();
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await bus.close();
      await simulator?.close();
      await db.close();
    },
  };
}

/**
 * SERVICE_UNAVAILABLE for a failure before any resolver runs (the user's first-sight insert): Apollo answers
 * such a context error with the status and headers it carries.
 */
function serviceUnavailableError(): GraphQLError {
  const error = serviceUnavailable();
  return new GraphQLError(error.message, {
    extensions: {
      code: error.code,
      ...error.details,
      http: {
        status: 503,
        headers: new HeaderMap([["retry-after", String(SERVICE_RETRY_AFTER_SECONDS)]]),
      },
    },
  });
}

async function authenticate(
  verify: TokenVerifier,
  authorization: string | undefined,
): Promise<{ userId?: string; error?: string }> {
  if (!authorization) return {};
  const token = bearerToken(authorization);
  if (!token) return { error: "the Authorization header must be `Bearer <token>`" };
  try {
    return { userId: (await verify(token)).userId };
  } catch (error) {
    return { error: error instanceof TokenError ? error.message : "token is invalid" };
  }
}
