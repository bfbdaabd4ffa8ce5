import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
// The resolvers first, in this order: it is the order of their fields in the SDL (type-graphql registers
// each decorator as its file loads).
import { CostResolver } from "../costs/cost.resolver";
import { DeploymentResolver } from "../deployments/deployment.resolver";
import { TrainingJobResolver } from "../jobs/training-job.resolver";
import { DeploymentStreamResolver } from "../deployments/deployment-stream.resolver";
import { BudgetAlertStreamResolver } from "../costs/budget-alert-stream.resolver";
import type { Config } from "../config/env";
import { BudgetAlertStream } from "../costs/budget-alert-stream";
import { BudgetWatchdog } from "../costs/budget-watchdog";
import { CostReportService } from "../costs/cost-report.service";
import { DeploymentQueryService } from "../deployments/deployment-query.service";
import { DeploymentReconciler, type ReconcilerOptions } from "../deployments/deployment-reconciler";
import { DeploymentStream } from "../deployments/deployment-stream";
import { DeploymentService } from "../deployments/deployment.service";
import { HubModelInfoClient } from "../hub/hub-model-info";
import { TrainingJobService } from "../jobs/training-job.service";
import type { MetricQueryService } from "../metrics/metric-query.service";
import type { EventBus } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import { GpuOfferService } from "../runpod/gpu-offer.service";
import type { RunpodClient } from "../runpod/runpod-client";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingConfigService } from "../training-configs/training-config.service";

// Deployments, costs, jobs and their supervision, wired as they are today. Their own create…Module functions
// replace this file.

/** The classes of these resolvers (the schema is printed from them). */
export const LEGACY_RESOLVERS = [
  DeploymentResolver,
  TrainingJobResolver,
  CostResolver,
  DeploymentStreamResolver,
  BudgetAlertStreamResolver,
] as const;

export interface LegacyDomainsDeps {
  config: Config;
  ds: DataSource;
  bus: EventBus;
  runpod: RunpodClient;
  logger: Logger;
  streams: LiveStreams;
  secrets: ProviderSecretService;
  trainingConfigs: TrainingConfigService;
  /** Why no pod could reach PUBLIC_URL, when none can (deployTraining is then refused). */
  callbackUnreachable: string | undefined;
  reconciler?: ReconcilerOptions;
}

export interface LegacyDomains extends GatewayModule {
  readonly deploymentQueries: DeploymentQueryService;
  readonly deployments: DeploymentService;
  readonly reconciler: DeploymentReconciler;
  readonly gpuOffers: GpuOfferService;
  readonly jobs: TrainingJobService;
  readonly costReports: CostReportService;
  readonly watchdog: BudgetWatchdog;
}

/**
 * The deployments (deploy, stop, the reconciler), the costs (the report, the budget watchdog) and the jobs'
 * service. The jobs' resolver needs the metric queries: see `createLegacyJobsModule`.
 */
export function createLegacyDomains(deps: LegacyDomainsDeps): LegacyDomains {
  const { config, ds, bus, runpod, logger, secrets, trainingConfigs, callbackUnreachable } = deps;
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
  const reconciler = new DeploymentReconciler(
    ds,
    runpod,
    secrets,
    deployments,
    logger.child({ component: "reconciler" }),
    { podStartTimeoutMs: config.podStartTimeoutSeconds * 1000, ...deps.reconciler },
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
  const costReports = new CostReportService(ds);
  const deploymentStream = new DeploymentStream(deps.streams, deploymentQueries);
  const budgetAlerts = new BudgetAlertStream(deps.streams, (userId, id) => deploymentQueries.get(userId, id));
  return {
    deploymentQueries,
    deployments,
    reconciler,
    gpuOffers,
    jobs,
    costReports,
    watchdog,
    resolvers: [
      new DeploymentResolver(deploymentQueries, deployments, gpuOffers),
      new CostResolver(costReports),
      new DeploymentStreamResolver(deploymentStream),
      new BudgetAlertStreamResolver(budgetAlerts),
    ],
    background: [
      { name: "reconcile", intervalMs: config.syncIntervalMs, run: () => reconciler.tick() },
      { name: "budget-watchdog", intervalMs: config.watchdogIntervalMs, run: () => watchdog.tick() },
    ],
  };
}

/** The jobs' resolver, once the metric queries exist (a job shows its points). */
export function createLegacyJobsModule(
  jobs: TrainingJobService,
  metricQueries: MetricQueryService,
): GatewayModule {
  return { resolvers: [new TrainingJobResolver(jobs, metricQueries)] };
}
