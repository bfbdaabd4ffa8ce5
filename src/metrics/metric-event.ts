/** A stored metric point as it travels on the event bus (JSON-safe: the timestamp is an ISO string). */
export interface MetricEvent {
  jobId: string;
  step: number;
  epoch: number | null;
  loss: number | null;
  evalLoss: number | null;
  learningRate: number | null;
  gradNorm: number | null;
  samplesPerSecond: number | null;
  elapsedSeconds: number | null;
  remainingSeconds: number | null;
  progress: number | null;
  gpuMemoryAllocatedGb: number | null;
  gpuMemoryReservedGb: number | null;
  gpuUtilizationPercent: number | null;
  recordedAt: string;
}
