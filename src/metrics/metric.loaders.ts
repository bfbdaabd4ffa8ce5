import DataLoader from "dataloader";
import type { MetricQueryService } from "./metric-query.service";
import type { TrainingMetric } from "./training-metric.entity";

/** The metrics' batched lookups of one request. */
export interface MetricLoaders {
  latestMetricByJobId: DataLoader<string, TrainingMetric | undefined>;
}

/** `cache: false` for a subscription, whose context outlives each event (see the request context). */
export function createMetricLoaders(metrics: MetricQueryService, options: { cache: boolean }): MetricLoaders {
  return {
    latestMetricByJobId: new DataLoader(
      async (jobIds) => {
        const latest = await metrics.latest(jobIds);
        return jobIds.map((id) => latest.get(id));
      },
      { cache: options.cache },
    ),
  };
}
