import type { Micros } from "./money";

/**
 * What a deployment will have cost when its trainer's ETA is reached: the actual cost plus the price for the
 * remaining time, never more than the budget (the pod is terminated there). `null` when nothing is known
 * about the remaining time of a running deployment.
 */
export function projectCost(args: {
  active: boolean;
  actualMicros: Micros;
  costPerHourMicros: Micros | null;
  budgetLimitMicros: Micros;
  remainingSeconds: number | null | undefined;
}): Micros | null {
  if (!args.active) return args.actualMicros;
  if (args.remainingSeconds == null || args.costPerHourMicros == null) return null;
  const rest = Math.round((args.costPerHourMicros * Math.max(0, args.remainingSeconds)) / 3600);
  return Math.min(args.actualMicros + rest, Math.max(args.budgetLimitMicros, args.actualMicros));
}
