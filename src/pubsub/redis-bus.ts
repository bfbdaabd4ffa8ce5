import { RedisPubSub } from "graphql-redis-subscriptions";
import Redis from "ioredis";
import type { Logger } from "pino";
import type { EventBus, Topic, Unlisten } from "./event-bus";

/**
 * The production bus: Redis pub/sub through graphql-redis-subscriptions, so a metric POSTed to one replica
 * reaches subscribers on every replica.
 */
export class RedisEventBus implements EventBus {
  private constructor(
    private readonly pubsub: RedisPubSub,
    private readonly publisher: Redis,
  ) {}

  /**
   * Connects both clients and waits until each is ready before subscribing anything: a SUBSCRIBE sent
   * during ioredis 5's ready check puts the connection in subscriber mode mid-handshake and events are then
   * lost silently (redis/ioredis#2037, STACK.md pitfall 1).
   */
  static async connect(url: string, logger: Logger): Promise<RedisEventBus> {
    const options = { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5_000 };
    const publisher = new Redis(url, options);
    const subscriber = new Redis(url, options);
    for (const client of [publisher, subscriber]) {
      client.on("error", (error: Error) => logger.warn({ err: error.message }, "redis connection error"));
    }
    try {
      await Promise.all([publisher.connect(), subscriber.connect()]);
      await Promise.all([ready(publisher), ready(subscriber)]);
    } catch (error) {
      publisher.disconnect();
      subscriber.disconnect();
      throw error;
    }
    return new RedisEventBus(new RedisPubSub({ publisher, subscriber }), publisher);
  }

  publish<T>(topic: Topic<T>, payload: T): Promise<void> {
    return this.pubsub.publish(topic, payload);
  }

  async listen<T>(topic: Topic<T>, handler: (payload: T) => void): Promise<Unlisten> {
    const id = await this.pubsub.subscribe<T>(topic, handler);
    return () => {
      this.pubsub.unsubscribe(id);
      return Promise.resolve();
    };
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.publisher.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pubsub.close();
  }
}

function ready(client: Redis): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("end", () => reject(new Error("redis connection closed before it was ready")));
  });
}
