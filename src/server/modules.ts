// The modules with resolvers load in the order schema.ts loads them, the order of the root fields in the SDL
// (type-graphql registers each decorator as its file loads): the gateway then serves the committed SDL as is.
import type { Logger } from "pino";
import type { ArtifactService } from "../artifacts/artifact.service";
import { createArtifactsModule } from "../artifacts/artifacts.module";
import type { TokenVerifier } from "../auth/jwt";
import type { GatewayModule } from "../composition/gateway-module";
import type { Config } from "../config/env";
import type { BudgetWatchdog } from "../costs/budget-watchdog";
import type { CostReportService } from "../costs/cost-report.service";
import type { DeploymentQueryService } from "../deployments/deployment-query.service";
import type { DeploymentReconciler, ReconcilerOptions } from "../deployments/deployment-reconciler";
import type { DeploymentService } from "../deployments/deployment.service";
import type { TrainingJobService } from "../jobs/training-job.service";
import type { CallbackOptions } from "../metrics/callback-handler";
import type { JobAccessCache } from "../metrics/job-access";
import type { IngestOptions, MetricIngestService } from "../metrics/metric-ingest.service";
import type { MetricQueryService } from "../metrics/metric-query.service";
import type { MetricStreamOptions } from "../metrics/metric-stream";
import { createMetricsModule } from "../metrics/metrics.module";
import { createLegacyDomains, createLegacyJobsModule } from "./legacy-domains";
import type { LiveStreams } from "../pubsub/live-streams";
import type { GpuOfferService } from "../runpod/gpu-offer.service";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import { createSecretsModule } from "../secrets/secrets.module";
import type { TrainingConfigService } from "../training-configs/training-config.service";
import { createTrainingConfigsModule } from "../training-configs/training-configs.module";
import type { UserService } from "../users/user.service";
import { createUsersModule } from "../users/users.module";
import { createWebModule } from "../web/web.module";
import type { Infrastructure } from "./infrastructure";
import type { GatewayMetrics } from "./prometheus";

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
  /** The live streams of this replica (how many are open, in all and per user). */
  subscriptions: LiveStreams;
  costReports: CostReportService;
  watchdog: BudgetWatchdog;
  artifacts: ArtifactService;
}

export interface ModuleDeps {
  config: Config;
  infrastructure: Infrastructure;
  logger: Logger;
  streams: LiveStreams;
  prometheus: GatewayMetrics;
  verifyToken: TokenVerifier;
  /** Why no pod could reach PUBLIC_URL, when none can. */
  callbackUnreachable: string | undefined;
  reconciler?: ReconcilerOptions;
  ingest?: IngestOptions;
  metricsRoutes?: CallbackOptions;
  metricStream?: MetricStreamOptions;
}

/**
 * Every domain's module, in the order their raw routes are tried and their background tasks start, with the
 * services they expose.
 */
export async function createModules(
  deps: ModuleDeps,
): Promise<{ modules: readonly GatewayModule[]; services: Services }> {
  const { config, logger, streams, prometheus } = deps;
  const { bus, runpod } = deps.infrastructure;
  const db = deps.infrastructure.db.dataSource;
  const users = createUsersModule({ db });
  const secrets = createSecretsModule({ db, encryptionKeys: config.encryptionKeys });
  const trainingConfigs = createTrainingConfigsModule({ db });
  const legacy = createLegacyDomains({
    config,
    ds: db,
    bus,
    runpod,
    logger,
    streams,
    secrets: secrets.secrets,
    trainingConfigs: trainingConfigs.trainingConfigs,
    callbackUnreachable: deps.callbackUnreachable,
    reconciler: deps.reconciler,
  });
  const metrics = await createMetricsModule({
    db,
    bus,
    logger,
    streams,
    jobs: legacy.jobs,
    deployments: legacy.deployments,
    ingest: {
      onCommitted: (points, seconds) => {
        prometheus.pointsIngested.inc(points);
        prometheus.ingestWriteSeconds.observe(seconds);
      },
      ...deps.ingest,
    },
    routes: {
      onAnswer: (route, status) => prometheus.callbacks.inc({ route, status: String(status) }),
      ...deps.metricsRoutes,
    },
    stream: deps.metricStream,
  });
  const artifacts = createArtifactsModule({
    db,
    logger,
    mode: config.mode,
    dataDir: config.dataDir,
    jobAccess: metrics.jobAccess,
    verifyToken: deps.verifyToken,
    options: {
      maxBytes: config.artifactMaxBytes,
      publicUrl: config.publicUrl,
      signingSecret: config.encryptionKeys[0].key,
      retentionDays: config.artifactRetentionDays,
    },
  });
  const modules = [
    users,
    secrets,
    trainingConfigs,
    legacy,
    createLegacyJobsModule(legacy.jobs, metrics.metricQueries),
    metrics,
    artifacts,
    createWebModule({ playgroundEnabled: config.playgroundEnabled }),
  ];
  const services: Services = {
    users: users.users,
    secrets: secrets.secrets,
    trainingConfigs: trainingConfigs.trainingConfigs,
    deploymentQueries: legacy.deploymentQueries,
    deployments: legacy.deployments,
    reconciler: legacy.reconciler,
    gpuOffers: legacy.gpuOffers,
    jobs: legacy.jobs,
    metricQueries: metrics.metricQueries,
    ingest: metrics.ingest,
    jobAccess: metrics.jobAccess,
    subscriptions: streams,
    costReports: legacy.costReports,
    watchdog: legacy.watchdog,
    artifacts: artifacts.artifacts,
  };
  return { modules, services };
}
