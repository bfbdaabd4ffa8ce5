import type { GatewayModule } from "../composition/gateway-module";
import type { MetricQueryService } from "../metrics/metric-query.service";
import { TrainingJobResolver } from "./training-job.resolver";
import type { TrainingJobService } from "./training-job.service";

/** The classes of this module's resolvers (the schema is printed from them). */
export const JOBS_RESOLVERS = [TrainingJobResolver] as const;

/**
 * Training jobs as GraphQL serves them. The service is made before the metrics module (which checks a job's
 * owner); the resolver after it, since a job shows its points.
 */
export function createJobsModule(deps: {
  jobs: TrainingJobService;
  metricQueries: MetricQueryService;
}): GatewayModule {
  return { resolvers: [new TrainingJobResolver(deps.jobs, deps.metricQueries)] };
}
