/**
 * Every value a metric point carries besides its job and step, in the order the public contract lists them. This one table
 * drives the callback parser (`key`, `kind`), the ingest SQL (`key` is the column), the bus event and the
 * subscription's points (`property`), and the web client's type and fragment; the stored entity, the GraphQL
 * type and the pod's reporter (trainer-scripts/metrics_reporter.py) are checked against it by
 * metric-fields.spec.ts. Adding a field: a row here, a column in a migration, a property on TrainingMetric.
 *
 * Pure data with no imports: the browser bundle imports it too.
 */
export const METRIC_FIELDS = [
  { key: "epoch", property: "epoch", kind: "number" },
  { key: "loss", property: "loss", kind: "number" },
  { key: "eval_loss", property: "evalLoss", kind: "number" },
  { key: "learning_rate", property: "learningRate", kind: "number" },
  { key: "grad_norm", property: "gradNorm", kind: "number" },
  { key: "samples_per_second", property: "samplesPerSecond", kind: "number" },
  { key: "elapsed_seconds", property: "elapsedSeconds", kind: "seconds" },
  { key: "remaining_seconds", property: "remainingSeconds", kind: "seconds" },
  { key: "progress", property: "progress", kind: "percent" },
  { key: "gpu_memory_allocated_gb", property: "gpuMemoryAllocatedGb", kind: "number" },
  { key: "gpu_memory_reserved_gb", property: "gpuMemoryReservedGb", kind: "number" },
  { key: "gpu_utilization_percent", property: "gpuUtilizationPercent", kind: "number" },
] as const;

export type MetricField = (typeof METRIC_FIELDS)[number];
/** `number`: any finite number; `seconds`: a whole number of seconds >= 0 (rounded); `percent`: 0..100. */
export type MetricFieldKind = MetricField["kind"];
export type MetricProperty = MetricField["property"];
export type MetricKey = MetricField["key"];

/** The values of one point, by property; null for what the trainer did not send. */
export type MetricValues = { [P in MetricProperty]: number | null };
