import type { EventBus, Topic, Unlisten } from "./event-bus";

/**
 * The embedded mode's bus: one process, no network. A payload goes through JSON once, so that subscribers see
 * exactly what they would see through Redis, and every subscriber of a topic gets that same object (as with
 * graphql-redis-subscriptions): listeners must treat payloads as read-only.
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Map<string, Set<(payload: unknown) => void>>();

  publish<T>(topic: Topic<T>, payload: T): Promise<void> {
    const handlers = this.handlers.get(topic);
    if (handlers && handlers.size > 0) {
      const shared: unknown = JSON.parse(JSON.stringify(payload));
      for (const handler of [...handlers]) handler(shared);
    }
    return Promise.resolve();
  }

  listen<T>(topic: Topic<T>, handler: (payload: T) => void): Promise<Unlisten> {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    const entry = handler as (payload: unknown) => void;
    set.add(entry);
    return Promise.resolve(() => {
      set.delete(entry);
      if (set.size === 0) this.handlers.delete(topic);
      return Promise.resolve();
    });
  }

  /** One process, no connection: nothing published here is ever lost between publish and listeners. */
  onInterrupted(): () => void {
    return () => undefined;
  }

  ping(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.handlers.clear();
    return Promise.resolve();
  }
}
