import type { DataSource } from "typeorm";
import type { Loaders } from "../auth/context";
import { createDeploymentLoaders } from "../deployments/deployment.loaders";
import { createTrainingJobLoaders } from "../jobs/training-job.loaders";
import { createMetricLoaders } from "../metrics/metric.loaders";
import type { MetricQueryService } from "../metrics/metric-query.service";

/**
 * Fresh loaders: one set per request, so cached rows never outlive it. A subscription keeps its context for
 * every event it sends, so its loaders batch but do not cache (`cache: false`), or each event would show the
 * rows as they were at subscribe time. Each domain writes its own queries; this only puts them together.
 */
export function createLoaders(
  db: DataSource,
  metrics: MetricQueryService,
  options: { cache: boolean },
): Loaders {
  return {
    ...createTrainingJobLoaders(db, options),
    ...createDeploymentLoaders(db, options),
    ...createMetricLoaders(metrics, options),
  };
}
