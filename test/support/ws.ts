import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface Collected<T> {
  /** Every `data` received, in order. */
  values: T[];
  /** Every error received. */
  errors: unknown[];
  /** Resolves once `predicate(values)` holds (checked on each event); rejects after `timeoutMs`. */
  until(predicate: (values: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
  /** Resolves when the subscription ended (complete or error). */
  ended: Promise<void>;
  dispose(): void;
}

/** A graphql-ws client for `url` authenticated with `token`, as a dashboard would open it. */
export function wsClient(httpUrl: string, token: string): Client {
  return createClient({
    url: `${httpUrl.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
}

/**
 * Subscribes and collects. Returns once the server acknowledged the subscribe message being processed far enough
 * to matter is not observable in graphql-ws, so callers that need "live from now" wait for a first event.
 */
export function collect<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  pick: (data: Record<string, unknown>) => T,
): Collected<T> {
  const values: T[] = [];
  const errors: unknown[] = [];
  const checks = new Set<() => void>();
  let endResolve!: () => void;
  const ended = new Promise<void>((resolve) => (endResolve = resolve));
  const dispose = client.subscribe<Record<string, unknown>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) values.push(pick(result.data));
        for (const check of [...checks]) check();
      },
      error: (error) => {
        errors.push(error);
        endResolve();
        for (const check of [...checks]) check();
      },
      complete: () => endResolve(),
    },
  );
  return {
    values,
    errors,
    ended,
    dispose,
    until(predicate, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(values)) {
            checks.delete(check);
            clearTimeout(timer);
            resolve(values);
          }
        };
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`timed out with ${values.length} values and errors ${JSON.stringify(errors)}`));
        }, timeoutMs);
        checks.add(check);
        check();
      });
    },
  };
}
