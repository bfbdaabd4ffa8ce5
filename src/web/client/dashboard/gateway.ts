import { createClient, type Client, type FormattedExecutionResult } from "graphql-ws";
import { graphqlWebSocketUrl } from "../shared/token-store";

/** A GraphQL error as the dashboard shows it: the message for people, the code for branching. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /** For BAD_USER_INPUT: the dotted path of the offending input field, e.g. `input.url`. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

export type ConnectionState = "connecting" | "live" | "reconnecting";

export interface GatewayClientOptions {
  token: string;
  /** The token was refused (HTTP `UNAUTHENTICATED`, or the socket closed with 4403). */
  onUnauthenticated(): void;
  /** The WebSocket's state, for the header's live indicator. */
  onConnectionChange?(state: ConnectionState): void;
}

export interface LiveHandlers<T> {
  next(data: T): void;
  /** GraphQL errors for this subscription (not socket drops: those are retried). */
  error?(error: GatewayError): void;
}

type GraphQLErrorLike = { message: string; extensions?: { code?: unknown; field?: unknown } };

/**
 * The dashboard's only way to the gateway: POST /graphql with the bearer token, and graphql-ws on the same
 * path with the token in `connection_init`.
 */
export class GatewayClient {
  private readonly ws: Client;
  private readonly reconnectListeners = new Set<() => void>();
  private everConnected = false;

  constructor(private readonly options: GatewayClientOptions) {
    this.ws = createClient({
      url: graphqlWebSocketUrl(window.location),
      lazy: true,
      // Moving between pages drops one page's subscriptions and starts the next's: keep the socket meanwhile.
      lazyCloseTimeout: 5_000,
      // No silent resubscription with the original variables: `live` resubscribes itself, so that
      // trainingMetrics resumes after the last step drawn rather than replaying from the first one.
      retryAttempts: 0,
      connectionParams: () => ({ authorization: `Bearer ${options.token}` }),
      on: {
        connecting: () => options.onConnectionChange?.(this.everConnected ? "reconnecting" : "connecting"),
        connected: () => {
          options.onConnectionChange?.("live");
          if (this.everConnected) for (const listener of this.reconnectListeners) listener();
          this.everConnected = true;
        },
        closed: (event) => {
          if (closeCode(event) === 4403) options.onUnauthenticated();
          else if (this.everConnected) options.onConnectionChange?.("reconnecting");
        },
      },
    });
  }

  /** One query or mutation over HTTP; rejects with the first GraphQL error. */
  async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    let response: Response;
    try {
      response = await fetch("/graphql", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          authorization: `Bearer ${this.options.token}`,
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch {
      throw new GatewayError("The gateway cannot be reached. Is it running?", "NETWORK_ERROR");
    }
    let body: { data?: T | null; errors?: GraphQLErrorLike[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new GatewayError(
        `The gateway answered ${response.status} without a GraphQL body.`,
        "BAD_RESPONSE",
      );
    }
    const error = body.errors?.[0];
    if (error) {
      const failure = toGatewayError(error);
      if (failure.code === "UNAUTHENTICATED") this.options.onUnauthenticated();
      throw failure;
    }
    if (!body.data) throw new GatewayError("The gateway answered without data.", "BAD_RESPONSE");
    return body.data;
  }

  /**
   * A subscription that survives dropped sockets: after a close it subscribes again, with backoff, taking
   * its variables afresh from `variables()` (so a metrics stream asks only for the steps after the last
   * one drawn). Returns the function that ends it.
   */
  live<T>(query: string, variables: () => Record<string, unknown>, handlers: LiveHandlers<T>): () => void {
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe: (() => void) | undefined;

    const start = () => {
      if (stopped) return;
      unsubscribe = this.ws.subscribe<T>(
        { query, variables: variables() },
        {
          next: (result: FormattedExecutionResult<T>) => {
            attempt = 0;
            const error = result.errors?.[0];
            if (error) handlers.error?.(toGatewayError(error));
            else if (result.data) handlers.next(result.data);
          },
          error: (error: unknown) => {
            if (stopped) return;
            const code = closeCode(error);
            if (code === 4403) return; // `closed` above signs the user out
            if (code !== undefined || error instanceof Error) {
              // The socket dropped (or never opened): try again, 0.5 s, 1 s, 2 s … 15 s apart.
              const delay = Math.min(15_000, 500 * 2 ** attempt++) * (0.8 + Math.random() * 0.4);
              timer = setTimeout(start, delay);
              return;
            }
            const first = Array.isArray(error) ? (error[0] as GraphQLErrorLike | undefined) : undefined;
            handlers.error?.(
              first ? toGatewayError(first) : new GatewayError("The subscription failed.", undefined),
            );
          },
          complete: () => undefined,
        },
      );
    };
    start();
    return () => {
      stopped = true;
      clearTimeout(timer);
      unsubscribe?.();
    };
  }

  /** Called after the socket comes back from a drop: views refetch what a subscription may have missed. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  dispose(): void {
    this.reconnectListeners.clear();
    void this.ws.dispose();
  }
}

function toGatewayError(error: GraphQLErrorLike): GatewayError {
  const { code, field } = error.extensions ?? {};
  return new GatewayError(
    error.message,
    typeof code === "string" ? code : undefined,
    typeof field === "string" ? field : undefined,
  );
}

function closeCode(event: unknown): number | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  const code = (event as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}
