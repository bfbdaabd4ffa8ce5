import { registerEnumType } from "type-graphql";
import type { Micros } from "./money";

/** What a budget alert (or a training-health alert) did. */
export enum BudgetAction {
  NOTIFIED = "NOTIFIED",
  STOPPING = "STOPPING",
  STOPPED = "STOPPED",
}
registerEnumType(BudgetAction, {
  description: "what the gateway did about a budget threshold crossed, or a training-health alert",
  valuesConfig: {
    NOTIFIED: { description: "told the caller; the deployment keeps running" },
    STOPPING: {
      description:
        "the run is being stopped: its budget is spent, or (training alerts) a health action stops it",
    },
    STOPPED: { description: "the pod was terminated for its budget" },
  },
  name: "BudgetAction",
});

/** Why the budget ends a run: the deployment's stop reason of the same name. */
export type BudgetStopReason = "BUDGET_EXCEEDED" | "MAX_DURATION";

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
  /** Seconds until the supervisor looks again. */
  intervalSeconds: number;
  /** Seconds the pod was billed as running (the deployment's `uptimeSeconds`). */
  uptimeSeconds: number;
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
  requestStop: BudgetStopReason | null;
  /** Terminate the pod now, for this reason. */
  terminate: BudgetStopReason | null;
}

/**
 * What the supervisor does about one running deployment, pure. Thresholds fire once each (the caller records
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
      requestStop: input.stopRequested ? null : "BUDGET_EXCEEDED",
      terminate: "BUDGET_EXCEEDED",
    };
  }
  const maxSeconds = input.maxDurationMinutes === null ? null : input.maxDurationMinutes * 60;
  if (maxSeconds !== null && input.uptimeSeconds >= maxSeconds) {
    return {
      notify,
      requestStop: input.stopRequested ? null : "MAX_DURATION",
      terminate: "MAX_DURATION",
    };
  }
  let requestStop: BudgetStopReason | null = null;
  if (!input.stopRequested) {
    if (percent >= STOPPING_THRESHOLD || nextLook >= input.budgetMicros) requestStop = "BUDGET_EXCEEDED";
    else if (maxSeconds !== null && input.uptimeSeconds + input.intervalSeconds >= maxSeconds)
      requestStop = "MAX_DURATION";
  }
  return { notify, requestStop, terminate: null };
}
