import { createGraphiQLFetcher, type Fetcher } from "@graphiql/toolkit";
import { parse, type DocumentNode } from "graphql";
import { createClient, type Client, type Event, type EventListener } from "graphql-ws";

export interface PlaygroundFetcherOptions {
  /** The HTTP endpoint, e.g. `https://host/graphql`. */
  url: string;
  /** The WebSocket endpoint, e.g. `wss://host/graphql`. */
  wsUrl: string;
}

/** The `Authorization` value in GraphiQL's headers editor (any letter case), if it holds a string. */
export function authorizationFrom(headers: Record<string, unknown> | undefined): string | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === "authorization" && typeof value === "string") return value;
  }
  return undefined;
}

/**
 * GraphiQL's fetcher: queries and mutations over HTTP with the headers editor's headers, subscriptions
 * over graphql-ws on the same path. The token set once in the headers editor is also what the socket sends
 * in `connection_init` (`{ authorization: "Bearer …" }`): `connectionParams` reads the value of the
 * operation being run, and a changed token opens a new socket rather than reusing one authorised as
 * somebody else.
 */
export function createPlaygroundFetcher(options: PlaygroundFetcherOptions): Fetcher {
  let authorization: string | undefined;
  let current: { client: Client; authorization: string | undefined } | undefined;

  const socket = (): Client => {
    if (current && current.authorization !== authorization) {
      void current.client.dispose();
      current = undefined;
    }
    if (!current) {
      current = {
        authorization,
        client: createClient({
          url: options.wsUrl,
          lazy: true,
          connectionParams: () => (authorization ? { authorization } : {}),
          // 4403 is the gateway's answer to a missing or bad token: retrying cannot help.
          shouldRetry: (closeEvent) => !(isCloseEvent(closeEvent) && closeEvent.code === 4403),
        }),
      };
    }
    return current.client;
  };

  // The toolkit takes one client for the page's life; this one forwards to the socket for the current token.
  const wsClient: Client = {
    on<E extends Event>(event: E, listener: EventListener<E>) {
      return socket().on(event, listener);
    },
    subscribe: (payload, sink) => socket().subscribe(payload, sink),
    iterate: (payload) => socket().iterate(payload),
    dispose: () => socket().dispose(),
    terminate: () => socket().terminate(),
  };

  const fetcher = createGraphiQLFetcher({ url: options.url, wsClient });
  return (params, opts) => {
    authorization = authorizationFrom(opts?.headers);
    // GraphiQL hands over the document it parsed after the last edit, debounced: run right after typing
    // `subscription …` and it is still the previous query's, and the toolkit would send the subscription
    // over HTTP. The text being sent is the truth.
    return fetcher(params, { ...opts, documentAST: parseOrKeep(params.query, opts?.documentAST) });
  };
}

function parseOrKeep(query: string, fallback: DocumentNode | undefined): DocumentNode | undefined {
  try {
    return parse(query);
  } catch {
    return fallback; // a syntax error: the gateway will say where
  }
}

function isCloseEvent(value: unknown): value is { code: number } {
  return (
    typeof value === "object" && value !== null && typeof (value as { code?: unknown }).code === "number"
  );
}
