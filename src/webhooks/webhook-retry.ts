/** When failed deliveries are tried again: exponential backoff with jitter, for a bounded time. */
export interface RetrySchedule {
  /** The delay before the first retry, before jitter. */
  firstDelayMs: number;
  /** The longest delay between two attempts, before jitter. */
  maxDelayMs: number;
  /** No attempt starts later than this after the event: the delivery is given up. */
  giveUpAfterMs: number;
}

/** README "Webhooks": 30 s, 1 min, 2 min, … doubling up to 1 h between attempts, for 24 hours. */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = {
  firstDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  giveUpAfterMs: 86_400_000,
};

/**
 * When attempt `attempt + 1` is due after attempt `attempt` failed at `now`, or null when it would start past
 * the give-up time. "Equal jitter": half the delay is fixed and half random, so retries of many events failed
 * together spread out and none comes sooner than half its step.
 */
export function nextAttemptAt(
  attempt: number,
  eventAt: Date,
  now: Date,
  schedule: RetrySchedule,
  random: () => number = Math.random,
): Date | null {
  const step = Math.min(schedule.maxDelayMs, schedule.firstDelayMs * 2 ** Math.max(0, attempt - 1));
  const delay = step / 2 + random() * (step / 2);
  const at = new Date(now.getTime() + delay);
  return at.getTime() > eventAt.getTime() + schedule.giveUpAfterMs ? null : at;
}
