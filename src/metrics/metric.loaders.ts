import DataLoader from "dataloader";
import { provideLoader, loaderKey, type LoaderFactory } from "../auth/context";
import { remainingSecondsByJobId } from "../deployments/deployment.loaders";
import type { MetricQueryService } from "./metric-query.service";
import type { TrainingMetric } from "./training-metric.entity";

/** A job's latest point, batched over the request. */
export const latestMetricByJobId =
  loaderKey<DataLoader<string, TrainingMetric | undefined>>("latestMetricByJobId");

/**
 * The metrics' batched lookups, for the request context to make per request. The deployments' remaining
 * seconds are read from the same latest points, so a page asking for both still sends one query.
 */
export function metricLoaders(metrics: MetricQueryService): readonly LoaderFactory[] {
  return [
    provideLoader(
      latestMetricByJobId,
      ({ cache }) =>
        new DataLoader<string, TrainingMetric | undefined>(
          async (jobIds) => {
            const latest = await metrics.latest(jobIds);
            return jobIds.map((id) => latest.get(id));
          },
          { cache },
        ),
    ),
    provideLoader(remainingSecondsByJobId, (_options, loaders) => ({
      load: async (jobId) => (await loaders.get(latestMetricByJobId).load(jobId))?.remainingSeconds,
    })),
  ];
}
