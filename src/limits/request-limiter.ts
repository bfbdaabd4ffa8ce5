import type Redis from "ioredis";
import type { Logger } from "pino";
import { failFastRedis } from "../pubsub/fail-fast-redis";
import { takeTokens, type BucketLimits, type BucketState } from "./token-bucket";

/**
 * The per-user GraphQL request limit: a token bucket per user id. Every operation a user sends, over HTTP or
 * WebSocket, takes one token.
 */
export interface RequestLimiter {
  /**
   * Takes `cost` tokens from `userId`'s bucket. Answers the whole seconds to wait (at least 1) when there are
   * not enough, 0 when the operations may go. Never throws: a limiter that cannot decide lets the request go.
   */
  take(userId: string, cost?: number): Promise<number>;
  close(): Promise<void>;
}

/** The limiter for a configuration: none when either setting is 0, Redis-backed with REDIS_URL, else in-process. */
export async function createRequestLimiter(
  options: { ratePerSecond: number; burst: number; redisUrl?: string },
  logger: Logger,
): Promise<RequestLimiter> {
  const limits = { ratePerSecond: options.ratePerSecond, burst: options.burst };
  if (limits.ratePerSecond <= 0 || limits.burst <= 0) return new UnlimitedRequestLimiter();
  if (options.redisUrl) return RedisRequestLimiter.connect(options.redisUrl, limits, logger);
  return new InProcessRequestLimiter(limits);
}

const waitSeconds = (waitMs: number): number => (waitMs <= 0 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)));

class UnlimitedRequestLimiter implements RequestLimiter {
  take(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * One replica's buckets (embedded mode has one replica). Bounded: past `maxUsers` the least recently seen
 * user's bucket goes, which at worst hands that user a full bucket again.
 */
export class InProcessRequestLimiter implements RequestLimiter {
  private readonly buckets = new Map<string, BucketState>();

  constructor(
    private readonly limits: BucketLimits,
    private readonly maxUsers = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  take(userId: string, cost = 1): Promise<number> {
    const previous = this.buckets.get(userId);
    const { state, waitMs } = takeTokens(
      previous,
      this.now(),
      this.limits,
      Math.min(cost, this.limits.burst),
    );
    // Deleted and set again, so the Map's order is least recently seen first.
    this.buckets.delete(userId);
    this.buckets.set(userId, state);
    if (this.buckets.size > this.maxUsers) this.buckets.delete(this.buckets.keys().next().value as string);
    return Promise.resolve(waitSeconds(waitMs));
  }

  close(): Promise<void> {
    this.buckets.clear();
    return Promise.resolve();
  }
}

/**
 * `takeTokens` (token-bucket.ts) in Lua, so that a take is one atomic round trip and every replica shares the
 * bucket. Redis's own clock is used, so replicas whose clocks differ still agree. The key expires once the
 * bucket would be full again: an idle user costs Redis nothing.
 * KEYS[1]: the bucket; ARGV: rate per second, burst, cost. Answers the milliseconds to wait (0: taken).
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1])
local at = tonumber(stored[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
`;

type ScriptedRedis = Redis & {
  takeUserTokens(key: string, ratePerSecond: number, burst: number, cost: number): Promise<number>;
};

/** How often, at most, an unreachable Redis is logged by the limiter. */
const OUTAGE_LOG_INTERVAL_MS = 60_000;

/**
 * The buckets in Redis, shared by every replica. The limiter fails open: while Redis does not answer (within
 * `commandTimeout`), requests go unlimited and a warning is logged at most once a minute; an outage of the
 * limiter must not take the API down.
 */
export class RedisRequestLimiter implements RequestLimiter {
  private lastOutageLogAt = -Infinity;

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly limits: BucketLimits,
    private readonly logger: Logger,
    private readonly closeRedis: () => Promise<void>,
  ) {}

  static async connect(url: string, limits: BucketLimits, logger: Logger): Promise<RedisRequestLimiter> {
    // While Redis is away a take fails at once (and the request goes) instead of waiting for a reconnect.
    const { redis, close } = failFastRedis(url);
    redis.defineCommand("takeUserTokens", { numberOfKeys: 1, lua: TAKE_SCRIPT });
    const limiter = new RedisRequestLimiter(redis as ScriptedRedis, limits, logger, close);
    redis.on("error", (error: Error) => limiter.outage(error));
    // A Redis that is down at start-up only means no limit until it is back (ioredis keeps reconnecting).
    await redis.connect().catch((error: unknown) => limiter.outage(error));
    return limiter;
  }

  async take(userId: string, cost = 1): Promise<number> {
    if (this.redis.status !== "ready") {
      this.outage(new Error(`redis connection is ${this.redis.status}`));
      return 0;
    }
    try {
      const waitMs = await this.redis.takeUserTokens(
        `traingate:user-rate:${userId}`,
        this.limits.ratePerSecond,
        this.limits.burst,
        Math.min(cost, this.limits.burst),
      );
      return waitSeconds(Number(waitMs));
    } catch (error) {
      this.outage(error);
      return 0;
    }
  }

  close(): Promise<void> {
    return this.closeRedis();
  }

  private outage(error: unknown): void {
    const now = Date.now();
    if (now - this.lastOutageLogAt < OUTAGE_LOG_INTERVAL_MS) return;
    this.lastOutageLogAt = now;
    this.logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "request rate limiter: redis unreachable, requests are not limited until it is back",
    );
  }
}
