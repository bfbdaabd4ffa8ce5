import type { Topic } from "../pubsub/event-bus";
import type { MetricEvent } from "./metric-event";

/** Points of one job, committed together, in step order. */
export interface MetricBatchEvent {
  jobId: string;
  points: MetricEvent[];
}

/** The topics the metrics publish on. */
export const metricTopics = {
  /** Every stored metric point of one job, in the order it was committed (one event per write). */
  jobMetric: (jobId: string): Topic<MetricBatchEvent> => `job/${jobId}/metric`,
} as const;
