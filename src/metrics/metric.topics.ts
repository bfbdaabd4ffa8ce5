import type { Topic } from "../pubsub/event-bus";
import type { MetricEvent } from "./metric-event";

/**
 * Points of one job, committed together, in step order; or, with `restart` and no points, the job's restart
 * marker: its run started again and redoes steps, so subscriptions deliver lower steps again from here on.
 */
export interface MetricBatchEvent {
  jobId: string;
  points: MetricEvent[];
  restart?: boolean;
}

/** The topics the metrics publish on. */
export const metricTopics = {
  /** Every stored metric point of one job (one event per write and replica), and the job's restart markers. */
  jobMetric: (jobId: string): Topic<MetricBatchEvent> => `job/${jobId}/metric`,
} as const;
