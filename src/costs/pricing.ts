import type { Micros } from "./money";

/**
 * Cost arithmetic, pure. RunPod bills pods per second: the GPU at the pod's `costPerHr` while it runs, and disk
 * storage per GB-month: container disk $0.10 while running, volume disk $0.10 while running
 * and $0.20 while stopped. A month is taken as 730 hours.
 *
 * Nothing is accrued by adding money. The deployment keeps exact integer sums (seconds x micro-dollars per hour,
 * GB-seconds per state), and the cost is computed from them with one rounding at the end.
 */
export const SECONDS_PER_HOUR = 3600;
export const SECONDS_PER_MONTH = 730 * SECONDS_PER_HOUR;
export const STORAGE_MICROS_PER_GB_MONTH = { running: 100_000, stopped: 200_000 } as const;

/** What is accumulated per deployment (columns of cloud_deployments). */
export interface Accrual {
  /**
   * Seconds the pod was billed as running: the deployment's `uptimeSeconds` (column, API field and the budget's
   * running time are this one quantity).
   */
  uptimeSeconds: number;
  /** The pod's own uptime at the last observation. */
  podUptimeSeconds: number;
  /** Σ billed seconds x micro-dollars per hour. */
  gpuPriceSeconds: number;
  /** Σ seconds x GB (volume + container disk) while running. */
  runningGbSeconds: number;
  /** Σ seconds x GB of volume disk while stopped. */
  stoppedGbSeconds: number;
  /** When the pod was last observed; accrual between observations is attributed to the state seen now. */
  observedAt: Date | null;
}

export type ObservedState = "STARTING" | "RUNNING" | "STOPPED" | "GONE";

export interface Observation {
  at: Date;
  state: ObservedState;
  /** The pod's uptime as RunPod reports it. */
  podUptimeSeconds: number;
  /** Whether the container is up (RunPod `runtime` is present). */
  runtimeUp: boolean;
  /** The pod's price now, micro-dollars per hour (RunPod says 0 while stopped). */
  costPerHourMicros: number;
}

export interface Disks {
  volumeGb: number;
  containerGb: number;
}

export const EMPTY_ACCRUAL: Accrual = {
  uptimeSeconds: 0,
  podUptimeSeconds: 0,
  gpuPriceSeconds: 0,
  runningGbSeconds: 0,
  stoppedGbSeconds: 0,
  observedAt: null,
};

/**
 * The accrual after one more observation of the pod.
 *
 * While the container is up, billed time grows by the pod's own uptime since the last look (a restarted
 * container starts again from 0, and then all of its new uptime counts). While the pod exists but its container
 * is not up yet (image pull), RunPod already bills, and uptime says nothing: wall-clock time counts. A stopped
 * pod bills only its volume disk, by wall-clock time.
 */
export function accrue(prev: Accrual, obs: Observation, disks: Disks): Accrual {
  const wallSeconds = prev.observedAt
    ? Math.max(0, Math.floor((obs.at.getTime() - prev.observedAt.getTime()) / 1000))
    : 0;
  const next: Accrual = { ...prev, observedAt: obs.at };
  switch (obs.state) {
    case "STARTING":
    case "RUNNING": {
      const uptime = Math.max(0, Math.floor(obs.podUptimeSeconds));
      const seconds = obs.runtimeUp
        ? uptime >= prev.podUptimeSeconds
          ? uptime - prev.podUptimeSeconds
          : uptime
        : wallSeconds;
      next.podUptimeSeconds = obs.runtimeUp ? uptime : prev.podUptimeSeconds;
      next.uptimeSeconds = prev.uptimeSeconds + seconds;
      next.gpuPriceSeconds = prev.gpuPriceSeconds + seconds * Math.max(0, Math.round(obs.costPerHourMicros));
      next.runningGbSeconds = prev.runningGbSeconds + seconds * (disks.volumeGb + disks.containerGb);
      return next;
    }
    case "STOPPED":
      // A resumed container starts its uptime from 0 again.
      next.podUptimeSeconds = 0;
      next.stoppedGbSeconds = prev.stoppedGbSeconds + wallSeconds * disks.volumeGb;
      return next;
    case "GONE":
      return next;
  }
}

/** The cost of an accrual, in micro-dollars, rounded half up once. */
export function accruedMicros(
  a: Pick<Accrual, "gpuPriceSeconds" | "runningGbSeconds" | "stoppedGbSeconds">,
): Micros {
  // Over a common denominator (3600 x seconds per month) in BigInt: the products pass 2^53 for long runs.
  const denominator = BigInt(SECONDS_PER_HOUR) * BigInt(SECONDS_PER_MONTH);
  const numerator =
    BigInt(a.gpuPriceSeconds) * BigInt(SECONDS_PER_MONTH) +
    BigInt(a.runningGbSeconds) * BigInt(STORAGE_MICROS_PER_GB_MONTH.running) * BigInt(SECONDS_PER_HOUR) +
    BigInt(a.stoppedGbSeconds) * BigInt(STORAGE_MICROS_PER_GB_MONTH.stopped) * BigInt(SECONDS_PER_HOUR);
  return Number((numerator * 2n + denominator) / (denominator * 2n));
}

/** The cost per hour of a running pod, storage included, in micro-dollars (for burn rates and projections). */
export function runningMicrosPerHour(costPerHourMicros: Micros, disks: Disks): Micros {
  const storage =
    ((disks.volumeGb + disks.containerGb) * STORAGE_MICROS_PER_GB_MONTH.running) /
    (SECONDS_PER_MONTH / SECONDS_PER_HOUR);
  return Math.round(costPerHourMicros + storage);
}

/** How long `budgetMicros` lasts at `microsPerHour`, in whole seconds (0 when the price is unknown). */
export function secondsAffordable(budgetMicros: Micros, microsPerHour: Micros): number {
  if (microsPerHour <= 0) return 0;
  return Math.max(0, Math.floor((budgetMicros * SECONDS_PER_HOUR) / microsPerHour));
}
