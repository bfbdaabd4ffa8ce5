import type { Logger } from "pino";
import type { EventBus } from "./event-bus";
import { InProcessEventBus } from "./in-process-bus";
import { RedisEventBus } from "./redis-bus";

/** The bus for a configuration: Redis when `REDIS_URL` is set, in-process otherwise. */
export function createEventBus(redisUrl: string | undefined, logger: Logger): Promise<EventBus> {
  return redisUrl ? RedisEventBus.connect(redisUrl, logger) : Promise.resolve(new InProcessEventBus());
}
