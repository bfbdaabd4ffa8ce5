import DataLoader from "dataloader";
import { In, type DataSource } from "typeorm";
import type { Loaders } from "../auth/context";
import { Deployment } from "../deployments/deployment.entity";
import { TrainingJob } from "../jobs/training-job.entity";
import type { MetricQueryService } from "../metrics/metric-query.service";

/**
 * Fresh loaders: one set per request, so cached rows never outlive it. A subscription keeps its context for
 * every event it sends, so its loaders batch but do not cache (`cache: false`), or each event would show the
 * rows as they were at subscribe time.
 */
export function createLoaders(
  db: DataSource,
  metrics: MetricQueryService,
  options: { cache: boolean },
): Loaders {
  const cache = options.cache;
  return {
    jobById: new DataLoader(
      async (ids) => {
        const rows = await db.getRepository(TrainingJob).findBy({ id: In([...ids]) });
        const byId = new Map(rows.map((row) => [row.id, row]));
        return ids.map((id) => byId.get(id));
      },
      { cache },
    ),
    deploymentByJobId: new DataLoader(
      async (jobIds) => {
        const rows = await db.getRepository(Deployment).findBy({ jobId: In([...jobIds]) });
        const byJob = new Map(rows.map((row) => [row.jobId, row]));
        return jobIds.map((id) => byJob.get(id));
      },
      { cache },
    ),
    latestMetricByJobId: new DataLoader(
      async (jobIds) => {
        const latest = await metrics.latest(jobIds);
        return jobIds.map((id) => latest.get(id));
      },
      { cache },
    ),
  };
}
