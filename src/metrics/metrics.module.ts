import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import { deploymentTopics } from "../deployments/deployment-stream";
import type { DeploymentService } from "../deployments/deployment.service";
import type { EventBus } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import type { NodeSource } from "../relay/node.types";
import { CallbackHandler, type CallbackOptions, type HealthWatch } from "./callback-handler";
import { JobAccessCache } from "./job-access";
import { MetricIngestService, type IngestOptions } from "./metric-ingest.service";
import { MetricQueryService } from "./metric-query.service";
import { MetricStreamService, type MetricStreamOptions } from "./metric-stream";
import { MetricStreamResolver } from "./metric-stream.resolver";
import { metricLoaders } from "./metric.loaders";
import { metricNodes } from "./metric.nodes";
import { TrainingJobMetricsResolver } from "./training-job-metrics.resolver";

/** The classes of this module's resolvers (the schema is printed from them). */
export const METRICS_RESOLVERS = [MetricStreamResolver, TrainingJobMetricsResolver] as const;

export interface MetricsModuleDeps {
  db: DataSource;
  bus: EventBus;
  logger: Logger;
  streams: LiveStreams;
  /** Who owns a job (NOT_FOUND for anyone else). */
  jobs: { assertOwned(userId: string, jobId: string): Promise<unknown> };
  /** What a pod's report moves. */
  deployments: DeploymentService;
  /** Judges each run's health from its points and reports (training-health alerts). */
  health?: HealthWatch;
  ingest?: IngestOptions;
  routes?: CallbackOptions;
  stream?: MetricStreamOptions;
}

export interface MetricsModule extends GatewayModule {
  readonly metricQueries: MetricQueryService;
  readonly ingest: MetricIngestService;
  readonly jobAccess: JobAccessCache;
  /** The points of the caller's jobs as `node(id)`s. */
  readonly nodes: NodeSource;
}

/**
 * Training metrics: the pods' callback routes (job access, group-commit ingest), the metric queries, and the
 * `trainingMetrics` stream.
 */
export async function createMetricsModule(deps: MetricsModuleDeps): Promise<MetricsModule> {
  const { db, bus, logger } = deps;
  const metricQueries = new MetricQueryService(db);
  const ingest = new MetricIngestService(db, bus, logger.child({ component: "ingest" }), deps.ingest);
  const jobAccess = new JobAccessCache(db);
  // The callback routes cache each job's state for a moment; every change made here, or on another replica,
  // drops it, so a pod's next post sees a stop at once.
  deps.deployments.onChanged((deployment) => jobAccess.invalidate(deployment.jobId));
  const unlisten = await bus.listen(deploymentTopics.jobAccessChanged, ({ jobId }) =>
    jobAccess.invalidate(jobId),
  );
  const callbacks = new CallbackHandler(
    {
      access: jobAccess,
      ingest,
      deployments: deps.deployments,
      health: deps.health,
      logger: logger.child({ component: "callbacks" }),
    },
    deps.routes,
  );
  const stream = new MetricStreamService(db, deps.streams, deps.jobs, deps.stream);
  return {
    metricQueries,
    ingest,
    jobAccess,
    resolvers: [new MetricStreamResolver(stream), new TrainingJobMetricsResolver(metricQueries)],
    loaders: metricLoaders(metricQueries),
    nodes: metricNodes(db),
    routes: [(req, res) => callbacks.handle(req, res)],
    close: unlisten,
  };
}
