import type { Micros } from "./money";
import { runningMicrosPerHour, SECONDS_PER_HOUR, type Disks } from "./pricing";

/**
 * What a deployment will have cost when its trainer's ETA is reached: the actual cost plus what the running pod
 * costs (GPU and disk storage) for the remaining time, never more than the budget (the pod is terminated
 * there). A finished deployment's projection is its actual cost; `null` when nothing is known about the
 * remaining time of a running deployment. The Deployment field and the cost report both answer this.
 */
export function projectCost(args: {
  active: boolean;
  actualMicros: Micros;
  costPerHourMicros: Micros | null;
  disks: Disks;
  budgetLimitMicros: Micros;
  remainingSeconds: number | null | undefined;
}): Micros | null {
  if (!args.active) return args.actualMicros;
  if (args.remainingSeconds == null || args.costPerHourMicros == null) return null;
  const perHour = runningMicrosPerHour(args.costPerHourMicros, args.disks);
  const rest = Math.round((perHour * Math.max(0, args.remainingSeconds)) / SECONDS_PER_HOUR);
  return Math.min(args.actualMicros + rest, Math.max(args.budgetLimitMicros, args.actualMicros));
}
