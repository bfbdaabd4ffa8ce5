import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { NodeSource } from "../relay/node.types";
import { trainingJobNodes } from "./training-job.nodes";
import { trainingJobLoaders } from "./training-job.loaders";
import { TrainingJobResolver } from "./training-job.resolver";
import { TrainingJobService } from "./training-job.service";

/** The classes of this module's resolvers (the schema is printed from them). */
export const JOBS_RESOLVERS = [TrainingJobResolver] as const;

export interface JobsModule extends GatewayModule {
  readonly jobs: TrainingJobService;
  /** The caller's jobs as `node(id)`s. */
  readonly nodes: NodeSource;
}

/** Training jobs: the service (owner checks for the other domains), the `trainingJob` query and the job loader. */
export function createJobsModule(deps: { db: DataSource }): JobsModule {
  const jobs = new TrainingJobService(deps.db);
  return {
    jobs,
    resolvers: [new TrainingJobResolver(jobs)],
    loaders: trainingJobLoaders(deps.db),
    nodes: trainingJobNodes,
  };
}
