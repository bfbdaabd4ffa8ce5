/** A token bucket's state: tokens left, as of `atMs`. */
export interface BucketState {
  tokens: number;
  atMs: number;
}

export interface BucketLimits {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Tokens the bucket holds when full (the burst). */
  burst: number;
}

/**
 * Takes `cost` tokens at `nowMs` from a bucket (undefined: a full one). Answers the bucket after the take and
 * how many milliseconds to wait before `cost` tokens would be there (0: taken). A refused take takes nothing.
 * The Redis script in request-limiter.ts is this same function in Lua; the two must agree.
 */
export function takeTokens(
  state: BucketState | undefined,
  nowMs: number,
  limits: BucketLimits,
  cost = 1,
): { state: BucketState; waitMs: number } {
  const { ratePerSecond, burst } = limits;
  const previous = state ?? { tokens: burst, atMs: nowMs };
  const elapsedMs = Math.max(0, nowMs - previous.atMs);
  const tokens = Math.min(burst, previous.tokens + (elapsedMs * ratePerSecond) / 1000);
  if (tokens >= cost) return { state: { tokens: tokens - cost, atMs: nowMs }, waitMs: 0 };
  return {
    state: { tokens, atMs: nowMs },
    waitMs: Math.ceil(((cost - tokens) * 1000) / ratePerSecond),
  };
}
