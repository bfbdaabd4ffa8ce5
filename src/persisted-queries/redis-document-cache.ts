import type { KeyValueCache, KeyValueCacheSetOptions } from "@apollo/utils.keyvaluecache";
import type { Logger } from "pino";
import { failFastRedis, type FailFastRedis } from "../pubsub/fail-fast-redis";

/**
 * Apollo's automatic-persisted-query cache in Redis, so a hash registered through one replica is known on every
 * other one. Keys are `<prefix><Apollo's key>` (Apollo's key is `apq:<sha256>`) and always expire: after the TTL
 * Apollo asks for, or `defaultTtlSeconds`.
 *
 * Redis only saves clients a resend here, so an outage is a miss, never a failure: a `get` answers nothing (the
 * client, told PERSISTED_QUERY_NOT_FOUND, sends its document again, which runs) and a `set` is dropped. The
 * outage is logged once, and again only after Redis has answered in between.
 */
export class RedisDocumentCache implements KeyValueCache<string> {
  private failing = false;

  private constructor(
    private readonly client: FailFastRedis,
    private readonly options: { prefix: string; defaultTtlSeconds: number },
    private readonly logger: Logger,
  ) {}

  static async connect(
    url: string,
    options: { prefix: string; defaultTtlSeconds: number },
    logger: Logger,
  ): Promise<RedisDocumentCache> {
    const client = failFastRedis(url);
    const cache = new RedisDocumentCache(client, options, logger);
    client.redis.on("error", (error: Error) => cache.outage(error));
    // A Redis that is down at start-up only means misses until it is back (ioredis keeps reconnecting).
    await client.redis.connect().catch((error: unknown) => cache.outage(error));
    return cache;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.attempt(() => this.client.redis.get(this.options.prefix + key));
    return value ?? undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl ?? this.options.defaultTtlSeconds;
    await this.attempt(() => this.client.redis.set(this.options.prefix + key, value, "EX", Math.max(1, ttl)));
  }

  async delete(key: string): Promise<boolean> {
    return ((await this.attempt(() => this.client.redis.del(this.options.prefix + key))) ?? 0) > 0;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** What `command` answers, or undefined (logged) while Redis does not. */
  private async attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (this.client.redis.status !== "ready") {
      this.outage(new Error(`redis connection is ${this.client.redis.status}`));
      return undefined;
    }
    try {
      const result = await command();
      this.failing = false;
      return result;
    } catch (error) {
      this.outage(error);
      return undefined;
    }
  }

  private outage(error: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "persisted-query cache: redis unreachable; hashes are misses (clients resend their documents) until it is back",
    );
  }
}
