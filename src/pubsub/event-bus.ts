/**
 * A topic name that carries payloads of type `T`. The type parameter exists only for the compiler: it ties
 * `publish` and `listen` of the same topic to the same payload type.
 */
export type Topic<T> = string & { readonly __payload?: T };

export type Unlisten = () => Promise<void>;

/**
 * Publish/subscribe between the gateway's parts and across replicas. Payloads must be JSON-safe (dates as ISO
 * strings): the Redis implementation serialises them, and the in-process one must behave the same.
 */
export interface EventBus {
  publish<T>(topic: Topic<T>, payload: T): Promise<void>;
  /**
   * Calls `handler` for every payload published on `topic` from the moment the returned promise resolves
   * until the returned function is called. Every listener of a topic may be handed the same payload object:
   * treat it as read-only. Resolving only once the subscription is live is what lets a
   * subscriber read history after subscribing without a gap.
   */
  listen<T>(topic: Topic<T>, handler: (payload: T) => void): Promise<Unlisten>;
  /**
   * `handler` runs whenever events may have been lost: the connection to the transport dropped, so every
   * listener registered before then may have missed some (the transport resubscribes, but what was published
   * in between is gone). Live streams end on it, so their clients resubscribe and replay from the database.
   * Returns a function that removes the handler.
   */
  onInterrupted(handler: () => void): () => void;
  /** Whether the transport is reachable (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
