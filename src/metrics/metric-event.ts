import type { MetricValues } from "./metric-fields";

/** A stored metric point as it travels on the event bus (JSON-safe: the timestamp is an ISO string). */
export type MetricEvent = {
  jobId: string;
  step: number;
  recordedAt: string;
  nonFinite?: boolean;
} & MetricValues;
