/**
 * The training-health rules, pure: what counts as a loss spike, GPU memory at the card's limit, an
 * out-of-memory failure and a stalled pod. The service applies them as points and reports arrive.
 */

/** A loss above `SPIKE_FACTOR` x the median of the last `SPIKE_WINDOW` finite losses before it is a spike... */
export const SPIKE_FACTOR = 3;
export const SPIKE_WINDOW = 20;
/** ...judged once at least this many finite losses came before it (early losses move fast). */
export const SPIKE_MIN_HISTORY = SPIKE_WINDOW / 2;

/** GPU memory is "at the limit" within this share of the pod's cards... */
export const GPU_MEMORY_HEADROOM = 0.02;
/** ...for this many consecutive points that report it. */
export const GPU_MEMORY_POINTS = 3;

/** A RUNNING pod with no metric this long raises STALLED (or at its stop window, when that is shorter). */
export const STALL_ALERT_MINUTES = 10;

/** One stored point, as the rules read it. */
export interface HealthPoint {
  step: number;
  loss: number | null;
  gpuMemoryAllocatedGb: number | null;
  gpuMemoryReservedGb: number | null;
}

/** The first point of `fresh` whose loss spikes over the finite losses before it (`history`: earlier points). */
export function lossSpike(
  history: readonly HealthPoint[],
  fresh: readonly HealthPoint[],
): { step: number; loss: number; median: number } | null {
  const losses = history.flatMap((p) => (p.loss === null ? [] : [p.loss]));
  for (const point of fresh) {
    if (point.loss === null) continue;
    const window = losses.slice(-SPIKE_WINDOW);
    if (window.length >= SPIKE_MIN_HISTORY) {
      const med = median(window);
      if (med > 0 && point.loss > SPIKE_FACTOR * med)
        return { step: point.step, loss: point.loss, median: med };
    }
    losses.push(point.loss);
  }
  return null;
}

/**
 * The step at which GPU memory had been within 2 % of the cards for 3 consecutive reporting points, over the
 * points in step order (earlier ones included), or null. The reporter sums memory over the pod's GPUs, so the
 * capacity is the card's memory times the GPU count; reserved memory (what the allocator holds) is what runs out.
 */
export function gpuMemoryHigh(
  points: readonly HealthPoint[],
  capacityGb: number,
): { step: number; usedGb: number } | null {
  if (!(capacityGb > 0)) return null;
  let run = 0;
  for (const point of points) {
    const used = Math.max(point.gpuMemoryReservedGb ?? -1, point.gpuMemoryAllocatedGb ?? -1);
    if (used < 0) continue;
    run = used >= capacityGb * (1 - GPU_MEMORY_HEADROOM) ? run + 1 : 0;
    if (run >= GPU_MEMORY_POINTS) return { step: point.step, usedGb: used };
  }
  return null;
}

/** What CUDA, PyTorch and cuBLAS say when GPU memory runs out. */
const OUT_OF_MEMORY = [
  /CUDA out of memory/i,
  /OutOfMemoryError/,
  /CUBLAS_STATUS_ALLOC_FAILED/,
  /cudaErrorMemoryAllocation/,
  /\bout of memory\b/i,
];

/** True when a trainer's failure message is an out-of-memory error. */
export function isOutOfMemory(message: string | null): boolean {
  return message !== null && OUT_OF_MEMORY.some((pattern) => pattern.test(message));
}

/**
 * What a RUNNING pod silent for `silentMs` gets: nothing, the STALLED alert (at 10 minutes, or at the stop window
 * when that is shorter), or the alert and a stop (at `stopAfterStallMinutes`; 0 turns the stop off).
 */
export function stallDecision(silentMs: number, stopAfterStallMinutes: number): "none" | "alert" | "stop" {
  const minutes = silentMs / 60_000;
  if (stopAfterStallMinutes > 0 && minutes >= stopAfterStallMinutes) return "stop";
  const alertAt =
    stopAfterStallMinutes > 0 ? Math.min(STALL_ALERT_MINUTES, stopAfterStallMinutes) : STALL_ALERT_MINUTES;
  return minutes >= alertAt ? "alert" : "none";
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
