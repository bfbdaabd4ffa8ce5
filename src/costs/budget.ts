import { StopReason } from "../deployments/deployment.enums";
import type { Micros } from "./money";

/** Thresholds that raise a NOTIFIED alert, once each. */
export const NOTIFY_THRESHOLDS = [50, 80, 90] as const;
/** At this share the trainer is asked to checkpoint and exit (STOPPING). */
export const STOPPING_THRESHOLD = 95;
/** At this share the pod is terminated (STOPPED). */
export const STOPPED_THRESHOLD = 100;

export interface BudgetInput {
  actualMicros: Micros;
  budgetMicros: Micros;
  /** What the pod costs per hour now, storage included (0 when unknown). */
  perHourMicros: Micros;
  /** Seconds until the watchdog looks again. */
  intervalSeconds: number;
  /** Seconds the pod has run. */
  runningSeconds: number;
  maxDurationMinutes: number | null;
  /** Thresholds already raised for this deployment. */
  raised: ReadonlySet<number>;
  /** A stop already asked for. */
  stopRequested: boolean;
}

export interface BudgetDecision {
  /** NOTIFIED thresholds to raise now, ascending. */
  notify: number[];
  /** Ask the trainer to stop (and raise STOPPING when the budget is why). */
  requestStop: StopReason | null;
  /** Terminate the pod now, for this reason. */
  terminate: StopReason | null;
}

/**
 * What the watchdog does about one running deployment, pure. Thresholds fire once each (the caller records
 * them); a stop is asked for at 95 % or when the next look would already be past the budget, so the trainer
 * can save a checkpoint first; the pod is terminated at 100 %, or once its running time reaches
 * `maxDurationMinutes` (with a stop asked for one look before).
 */
export function budgetDecision(input: BudgetInput): BudgetDecision {
  const percent = input.budgetMicros > 0 ? (input.actualMicros * 100) / input.budgetMicros : 100;
  const nextLook = input.actualMicros + (input.perHourMicros * input.intervalSeconds) / 3600;
  const notify = NOTIFY_THRESHOLDS.filter((t) => percent >= t && !input.raised.has(t));

  if (percent >= STOPPED_THRESHOLD) {
    return {
      notify,
      requestStop: input.stopRequested ? null : StopReason.BUDGET_EXCEEDED,
      terminate: StopReason.BUDGET_EXCEEDED,
    };
  }
  const maxSeconds = input.maxDurationMinutes === null ? null : input.maxDurationMinutes * 60;
  if (maxSeconds !== null && input.runningSeconds >= maxSeconds) {
    return {
      notify,
      requestStop: input.stopRequested ? null : StopReason.MAX_DURATION,
      terminate: StopReason.MAX_DURATION,
    };
  }
  let requestStop: StopReason | null = null;
  if (!input.stopRequested) {
    if (percent >= STOPPING_THRESHOLD || nextLook >= input.budgetMicros)
      requestStop = StopReason.BUDGET_EXCEEDED;
    else if (maxSeconds !== null && input.runningSeconds + input.intervalSeconds >= maxSeconds)
      requestStop = StopReason.MAX_DURATION;
  }
  return { notify, requestStop, terminate: null };
}
