import Redis from "ioredis";

/** A Redis client whose commands fail at once while Redis is away, and how to close it. */
export interface FailFastRedis {
  readonly redis: Redis;
  readonly close: () => Promise<void>;
}

/**
 * A client for what Redis only helps with (the shared rate limit, the persisted-query cache): the caller carries
 * on without an answer rather than wait for one. No offline queue and a short command timeout, so a command
 * sent during an outage fails at once instead of waiting for a reconnect; ioredis keeps reconnecting meanwhile.
 * Not connected yet: the caller listens for `error` first, then calls `redis.connect()`.
 */
export function failFastRedis(url: string): FailFastRedis {
  let closing = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    // Once closed, a reconnect that was already scheduled gives up instead of keeping the process alive.
    retryStrategy: (times) => (closing ? null : Math.min(times * 50, 2_000)),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    commandTimeout: 1_000,
    // What a disconnect waits before it cuts the socket; ioredis's 2 s default kept a closed process alive.
    disconnectTimeout: 200,
  });
  return {
    redis,
    close: async () => {
      closing = true;
      // A client that is not connected would wait for the connection to send QUIT: it is cut instead.
      if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}
