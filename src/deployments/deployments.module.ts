import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { EventBus } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import type { NodeSource } from "../relay/node.types";
import type { GpuOfferService } from "../runpod/gpu-offer.service";
import type { RunpodClient } from "../runpod/runpod-client";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingConfigService } from "../training-configs/training-config.service";
import { CostResolver } from "./cost-report.resolver";
import { CostReportService } from "./cost-report.service";
import { DeploymentQueryService } from "./deployment-query.service";
import { DeploymentStream } from "./deployment-stream";
import { DeploymentResolver } from "./deployment.resolver";
import { DeploymentStreamResolver } from "./deployment-stream.resolver";
import { deploymentLoaders } from "./deployment.loaders";
import { deploymentNodes } from "./deployment.nodes";
import { DeploymentService, type DeploymentServiceOptions } from "./deployment.service";
import { TrainingJobDeploymentResolver } from "./training-job-deployment.resolver";

/** The classes of this module's resolvers (the schema is printed from them), in the order their files load. */
export const DEPLOYMENTS_RESOLVERS = [
  CostResolver,
  DeploymentResolver,
  DeploymentStreamResolver,
  TrainingJobDeploymentResolver,
] as const;

export interface DeploymentsDeps {
  db: DataSource;
  runpod: RunpodClient;
  offers: GpuOfferService;
  secrets: ProviderSecretService;
  configs: TrainingConfigService;
  bus: EventBus;
  logger: Logger;
  streams: LiveStreams;
  options: DeploymentServiceOptions;
}

export interface DeploymentsModule extends GatewayModule {
  readonly deployments: DeploymentService;
  readonly queries: DeploymentQueryService;
  readonly costReports: CostReportService;
  /** The caller's deployments and their events as `node(id)`s. */
  readonly nodes: NodeSource;
}

/** Deployments (deploy, stop, refresh, queries, the live stream) and the cost report over them, with their resolvers. */
export function createDeploymentsModule(deps: DeploymentsDeps): DeploymentsModule {
  const queries = new DeploymentQueryService(deps.db);
  const deployments = new DeploymentService(
    deps.db,
    deps.runpod,
    deps.offers,
    deps.secrets,
    deps.configs,
    queries,
    deps.bus,
    deps.logger.child({ component: "deployments" }),
    deps.options,
  );
  const costReports = new CostReportService(deps.db);
  return {
    deployments,
    queries,
    costReports,
    resolvers: [
      new DeploymentResolver(queries, deployments, deps.offers),
      new CostResolver(costReports),
      new DeploymentStreamResolver(new DeploymentStream(deps.streams, queries)),
      new TrainingJobDeploymentResolver(),
    ],
    loaders: deploymentLoaders(deps.db),
    nodes: deploymentNodes(deps.db),
  };
}
