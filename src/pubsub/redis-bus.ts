import { RedisPubSub } from "graphql-redis-subscriptions";
import Redis from "ioredis";
import type { Logger } from "pino";
import type { EventBus, Topic, Unlisten } from "./event-bus";

/**
 * The production bus: Redis pub/sub through graphql-redis-subscriptions, so a metric POSTed to one replica
 * reaches subscribers on every replica.
 */
export class RedisEventBus implements EventBus {
  private readonly interruptions = new Set<() => void>();

  private constructor(
    private readonly pubsub: RedisPubSub,
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    logger: Logger,
  ) {
    // Only a drop of an established connection can lose events (`close` also follows a failed reconnect).
    let connected = true;
    subscriber.on("ready", () => (connected = true));
    subscriber.on("close", () => {
      if (!connected) return;
      connected = false;
      logger.warn(
        { listeners: this.interruptions.size },
        "redis subscriber connection lost: live streams end",
      );
      for (const handler of [...this.interruptions]) handler();
    });
  }

  /**
   * Connects both clients and waits until each is ready before subscribing anything: a SUBSCRIBE sent
   * during ioredis 5's ready check puts the connection in subscriber mode mid-handshake and events are then
   * lost silently (redis/ioredis#2037).
   */
  static async connect(url: string, logger: Logger): Promise<RedisEventBus> {
    // disconnectTimeout: what a disconnect waits before it cuts the socket (ioredis's 2 s kept a closed process
    // alive that long).
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 3,
      connectTimeout: 5_000,
      disconnectTimeout: 200,
    };
    const publisher = new Redis(url, options);
    // No ready check on the subscriber: after a reconnect, a SUBSCRIBE queued during the outage would be sent
    // in the middle of that check's INFO and break the connection (the same ioredis 5 race as above).
    const subscriber = new Redis(url, { ...options, enableReadyCheck: false });
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
    // graphql-redis-subscriptions drops the promises of the UNSUBSCRIBE and PUNSUBSCRIBE it sends when a
    // topic's last listener leaves; during an outage they reject and, unhandled, would take the process down.
    // A failed unsubscribe costs nothing: messages on a topic nobody listens to are ignored.
    for (const command of ["unsubscribe", "punsubscribe"] as const) {
      const send = subscriber[command].bind(subscriber) as (...channels: string[]) => Promise<unknown>;
      Object.assign(subscriber, {
        [command]: (...channels: string[]) =>
          send(...channels).catch((error: Error) => {
            logger.warn({ err: error.message, command }, "redis unsubscribe failed (ignored)");
          }),
      });
    }
    return new RedisEventBus(new RedisPubSub({ publisher, subscriber }), publisher, subscriber, logger);
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

  onInterrupted(handler: () => void): () => void {
    this.interruptions.add(handler);
    return () => this.interruptions.delete(handler);
  }

  async ping(): Promise<boolean> {
    if (this.subscriber.status !== "ready") return false;
    try {
      return (await this.publisher.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.interruptions.clear();
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
