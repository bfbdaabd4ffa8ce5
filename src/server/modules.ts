// schema.ts loads every module's resolvers in the order of the root fields in the committed SDL
// (type-graphql registers each decorator as its file loads); it is imported first so that the gateway serves
// that SDL as is, whichever order the modules are imported in below.
import "./schema";
import type { Logger } from "pino";
import type { ArtifactService } from "../artifacts/artifact.service";
import { createArtifactsModule } from "../artifacts/artifacts.module";
import type { TokenVerifier } from "../auth/jwt";
import type { GatewayModule } from "../composition/gateway-module";
import type { Config } from "../config/env";
import type { CostReportService } from "../deployments/cost-report.service";
import type { DeploymentQueryService } from "../deployments/deployment-query.service";
import { createDeploymentsModule } from "../deployments/deployments.module";
import type { DeploymentService } from "../deployments/deployment.service";
import { HubModelInfoClient } from "../hub/hub-model-info";
import { createJobsModule } from "../jobs/jobs.module";
import type { TrainingJobService } from "../jobs/training-job.service";
import type { CallbackOptions } from "../metrics/callback-handler";
import type { JobAccessCache } from "../metrics/job-access";
import type { IngestOptions, MetricIngestService } from "../metrics/metric-ingest.service";
import type { MetricQueryService } from "../metrics/metric-query.service";
import type { MetricStreamOptions } from "../metrics/metric-stream";
import { createMetricsModule } from "../metrics/metrics.module";
import type { LiveStreams } from "../pubsub/live-streams";
import { GpuOfferService } from "../runpod/gpu-offer.service";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import { createSecretsModule } from "../secrets/secrets.module";
import type { TrainingConfigService } from "../training-configs/training-config.service";
import { createTrainingConfigsModule } from "../training-configs/training-configs.module";
import type { UserService } from "../users/user.service";
import { createRelayModule } from "../relay/relay.module";
import type { PodSupervisor, SupervisorOptions } from "../supervision/pod-supervisor";
import { createSupervisionModule } from "../supervision/supervision.module";
import { createTrainingAlertsModule } from "../training-alerts/training-alerts.module";
import { createUsersModule } from "../users/users.module";
import { createWebModule } from "../web/web.module";
import type { WebhookService } from "../webhooks/webhook.service";
import type { WebhookDeliveryWorker } from "../webhooks/webhook-delivery.worker";
import { createWebhooksModule, type WebhookTuning } from "../webhooks/webhooks.module";
import type { Infrastructure } from "./infrastructure";
import type { GatewayMetrics } from "./prometheus";

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
  /** The live streams of this replica (how many are open, in all and per user). */
  subscriptions: LiveStreams;
  costReports: CostReportService;
  artifacts: ArtifactService;
  webhooks: WebhookService;
  webhookDelivery: WebhookDeliveryWorker;
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
  /** Tuning of the pod supervisor (tests shorten the orphan grace period). */
  supervisor?: SupervisorOptions;
  ingest?: IngestOptions;
  metricsRoutes?: CallbackOptions;
  metricStream?: MetricStreamOptions;
  /** Tuning of webhook delivery (tests shorten the retry schedule). */
  webhooks?: WebhookTuning;
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
  const trainingConfigs = createTrainingConfigsModule({ db, localModels: config.localModels });
  const gpuOffers = new GpuOfferService(runpod);
  const deployments = createDeploymentsModule({
    db,
    runpod,
    offers: gpuOffers,
    secrets: secrets.secrets,
    configs: trainingConfigs.trainingConfigs,
    bus,
    logger,
    streams,
    options: {
      metricsApiUrl: config.metricsApiUrl,
      defaultImage: config.trainerImage,
      terminateAfterGraceSeconds: Math.ceil(config.watchdogIntervalMs / 1000),
      callbackUnreachable: deps.callbackUnreachable,
      quota: { maxActive: config.maxActiveDeploymentsPerUser, maxPerHour: config.maxDeploysPerHour },
      localModels: config.localModels,
      modelSizes: new HubModelInfoClient({
        endpoint: config.hubEndpoint,
        logger: logger.child({ component: "hub" }),
      }),
    },
  });
  const trainingAlerts = createTrainingAlertsModule({
    db,
    deployments: deployments.deployments,
    deploymentQueries: deployments.queries,
    bus,
    streams,
    logger,
  });
  const jobs = createJobsModule({ db });
  const metrics = await createMetricsModule({
    db,
    bus,
    logger,
    streams,
    jobs: jobs.jobs,
    deployments: deployments.deployments,
    health: trainingAlerts.alerts,
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
    stream: { onLate: () => prometheus.pointsLate.inc(), ...deps.metricStream },
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
  const supervision = createSupervisionModule({
    db,
    runpod,
    secrets: secrets.secrets,
    deployments: deployments.deployments,
    deploymentQueries: deployments.queries,
    health: trainingAlerts.alerts,
    storedResults: (jobIds) => artifacts.artifacts.completeJobIds(jobIds),
    bus,
    streams,
    logger,
    options: {
      intervalMs: config.watchdogIntervalMs,
      sweepIntervalMs: config.syncIntervalMs,
      podStartTimeoutMs: config.podStartTimeoutSeconds * 1000,
      ...deps.supervisor,
    },
  });
  const webhooks = createWebhooksModule({
    db,
    logger,
    encryptionKeys: config.encryptionKeys,
    deployments: deployments.deployments,
    production: config.production,
    allowPrivate: config.webhookAllowPrivate,
    publicUrl: config.publicUrl,
    tuning: deps.webhooks,
  });
  const modules = [
    users,
    secrets,
    trainingConfigs,
    deployments,
    supervision,
    trainingAlerts,
    jobs,
    metrics,
    artifacts,
    webhooks,
    createRelayModule({
      sources: [
        users.nodes,
        trainingConfigs.nodes,
        deployments.nodes,
        jobs.nodes,
        metrics.nodes,
        webhooks.nodes,
      ],
    }),
    createWebModule({ playgroundEnabled: config.playgroundEnabled }),
  ];
  const services: Services = {
    users: users.users,
    secrets: secrets.secrets,
    trainingConfigs: trainingConfigs.trainingConfigs,
    deploymentQueries: deployments.queries,
    deployments: deployments.deployments,
    supervisor: supervision.supervisor,
    gpuOffers,
    jobs: jobs.jobs,
    metricQueries: metrics.metricQueries,
    ingest: metrics.ingest,
    jobAccess: metrics.jobAccess,
    subscriptions: streams,
    costReports: deployments.costReports,
    artifacts: artifacts.artifacts,
    webhooks: webhooks.webhooks,
    webhookDelivery: webhooks.delivery,
  };
  return { modules, services };
}
