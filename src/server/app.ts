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
import {
  type AppError,
  ErrorCode,
  rateLimited,
  SERVICE_RETRY_AFTER_SECONDS,
  serviceUnavailable,
} from "../errors/app-error";
import { createRequestLimiter, type RequestLimiter } from "../limits/request-limiter";
import { isDatabaseUnavailable } from "../db/unavailable";
import { CostReportService } from "../deployments/cost-report.service";
import { CostResolver } from "../deployments/cost-report.resolver";
import { openDatabase, type Database } from "../db/data-source";
import { DeploymentQueryService } from "../deployments/deployment-query.service";
import { DeploymentService } from "../deployments/deployment.service";
import { createSupervisionModule } from "../supervision/supervision.module";
import type { PodSupervisor, SupervisorOptions } from "../supervision/pod-supervisor";
import { GpuOfferService } from "../runpod/gpu-offer.service";
import type { RunpodClient } from "../runpod/runpod-client";
import { RunpodGraphqlClient } from "../runpod/runpod-graphql-client";
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
  /** Run the background work (the pod supervisor, retention) on a timer. Default true; tests drive it by hand. */
  background?: boolean;
  /** Tuning of the pod supervisor (tests shorten the orphan grace period). */
  reconciler?: SupervisorOptions;
  /**
   * The RunPod endpoint to use instead of `RUNPOD_API_URL` (the built-in simulator, which the entry points
   * start: see start.ts), closed with the gateway.
   */
  upstream?: { url: string; close(): Promise<void> };
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
  supervisor: PodSupervisor;
  gpuOffers: GpuOfferService;
  jobs: TrainingJobService;
  metricQueries: MetricQueryService;
  ingest: MetricIngestService;
  jobAccess: JobAccessCache;
  subscriptions: SubscriptionService;
  costReports: CostReportService;
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
  try {
    bus = await createEventBus(config.redisUrl, logger);
  } catch (error) {
    await db.close();
    throw error;
  }
  // Never throws: a Redis it cannot reach only means no limit until Redis is back.
  const requestLimiter: RequestLimiter = await createRequestLimiter(
    { ratePerSecond: config.userRatePerSecond, burst: config.userRateBurst, redisUrl: config.redisUrl },
    logger.child({ component: "rate-limit" }),
  );
  const runpod: RunpodClient = new RunpodGraphqlClient({
    url: options.upstream?.url ?? config.runpodApiUrl,
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
      quota: { maxActive: config.maxActiveDeploymentsPerUser, maxPerHour: config.maxDeploysPerHour },
      modelSizes: new HubModelInfoClient({
        endpoint: config.hubEndpoint,
        logger: logger.child({ component: "hub" }),
      }),
    },
  );
  const supervision = createSupervisionModule({
    db: ds,
    runpod,
    secrets,
    deployments,
    bus,
    logger,
    options: {
      intervalMs: config.watchdogIntervalMs,
      sweepIntervalMs: config.syncIntervalMs,
      podStartTimeoutMs: config.podStartTimeoutSeconds * 1000,
      ...options.reconciler,
    },
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
    supervisor: supervision.supervisor,
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
      ...(supervision.background ?? []),
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

  /**
   * The context of `operations` operations sent together, from the `Authorization` value they came with. Each
   * takes one token of the caller's request limit, before the database is touched.
   */
  const contextFor = async (
    authorization: string | undefined,
    requestId: string,
    cache: boolean,
    operations = 1,
  ) => {
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
      const waitSeconds = await requestLimiter.take(principal.userId, operations);
      if (waitSeconds > 0) throw contextError(userRateLimited(config, waitSeconds), 429);
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
                } else {
                  // A limit reached in a resolver (deployTraining's quotas): 429, with the longest wait asked.
                  const waits = errors
                    .filter((error) => error.extensions?.code === ErrorCode.RATE_LIMITED)
                    .map((error) => Number(error.extensions?.retryAfterSeconds ?? 1));
                  if (waits.length > 0) {
                    response.http.status = 429;
                    response.http.headers.set("retry-after", String(Math.max(1, ...waits)));
                  }
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
      context: ({ req, res }) => {
        // A batch (should batching ever be allowed) counts each of its operations.
        const body: unknown = req.body;
        return contextFor(
          req.header("authorization"),
          String(res.locals.requestId ?? randomUUID()),
          true,
          Array.isArray(body) ? Math.max(1, body.length) : 1,
        );
      },
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
      await requestLimiter.close();
      await options.upstream?.close();
      await db.close();
    },
  };
}

/**
 * SERVICE_UNAVAILABLE for a failure before any resolver runs (the user's first-sight insert): Apollo answers
 * such a context error with the status and headers it carries.
 */
function serviceUnavailableError(): GraphQLError {
  return contextError(serviceUnavailable(), 503);
}

/**
 * An error of the context function (before any resolver runs), answered with `status` and, when the error asks
 * for a wait, `Retry-After`. Over WebSocket the same error is sent as the operation's error (websocket.ts).
 */
function contextError(error: AppError, status: number): GraphQLError {
  const retryAfter = error.details.retryAfterSeconds;
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      code: error.code,
      ...error.details,
      http: {
        status,
        headers: new HeaderMap(retryAfter === undefined ? [] : [["retry-after", String(retryAfter)]]),
      },
    },
  });
}

/** RATE_LIMITED for a caller past USER_RATE_BURST / USER_RATE_PER_SECOND. */
function userRateLimited(config: Config, waitSeconds: number): AppError {
  return rateLimited(
    `too many requests: the limit is ${config.userRatePerSecond} operations per second per user, ` +
      `with bursts of up to ${config.userRateBurst} (USER_RATE_PER_SECOND, USER_RATE_BURST); ` +
      `retry in ${waitSeconds} s`,
    waitSeconds,
  );
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
