import type { Page, WebSocketRoute } from "playwright-core";

/** One `subscribe` the page sent. */
export interface ScriptedSubscription {
  id: string;
  operationName: string | undefined;
  variables: Record<string, unknown>;
  /** False once the page completed it or its socket closed. */
  active: boolean;
  socket: WebSocketRoute;
}

type Waiter = {
  match(subscription: ScriptedSubscription): boolean;
  resolve(subscription: ScriptedSubscription): void;
};

/**
 * Plays the gateway's side of graphql-ws (`graphql-transport-ws`) for one page, so that a test decides
 * what each subscription receives and when the socket drops. HTTP still goes to the real gateway.
 */
export class ScriptedGraphqlWs {
  /** Every `connection_init` payload, in order. */
  readonly connectionParams: Record<string, unknown>[] = [];
  readonly subscriptions: ScriptedSubscription[] = [];
  private readonly sockets = new Set<WebSocketRoute>();
  private waiters: Waiter[] = [];

  static async install(page: Page): Promise<ScriptedGraphqlWs> {
    const peer = new ScriptedGraphqlWs();
    await page.routeWebSocket(
      (url) => url.pathname === "/graphql",
      (socket) => peer.accept(socket),
    );
    return peer;
  }

  /** Resolves with the first active subscription (already made or still to come) that matches. */
  waitForSubscription(
    operationName: string,
    match: (subscription: ScriptedSubscription) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ScriptedSubscription> {
    const matches = (s: ScriptedSubscription) => s.active && s.operationName === operationName && match(s);
    const found = this.subscriptions.find(matches);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== entry);
        const seen = this.subscriptions.map((s) => `${s.operationName}${JSON.stringify(s.variables)}`);
        reject(
          new Error(
            `no ${operationName} subscription matched within ${timeoutMs} ms; saw ${seen.join(", ")}`,
          ),
        );
      }, timeoutMs);
      const entry: Waiter = {
        match: matches,
        resolve: (subscription) => {
          clearTimeout(timer);
          resolve(subscription);
        },
      };
      this.waiters.push(entry);
    });
  }

  next(subscription: ScriptedSubscription, data: unknown): void {
    subscription.socket.send(JSON.stringify({ id: subscription.id, type: "next", payload: { data } }));
  }

  /** Closes every open socket from the server side, as a restarting gateway would. */
  async dropConnections(code = 1012, reason = "service restart"): Promise<void> {
    const sockets = [...this.sockets];
    this.sockets.clear();
    for (const subscription of this.subscriptions) {
      if (sockets.includes(subscription.socket)) subscription.active = false;
    }
    await Promise.all(sockets.map((socket) => socket.close({ code, reason })));
  }

  private accept(socket: WebSocketRoute): void {
    this.sockets.add(socket);
    socket.onClose(() => {
      this.sockets.delete(socket);
      for (const subscription of this.subscriptions)
        if (subscription.socket === socket) subscription.active = false;
    });
    socket.onMessage((raw) => {
      const message = JSON.parse(String(raw)) as {
        type: string;
        id?: string;
        payload?: { query?: string; operationName?: string; variables?: Record<string, unknown> } & Record<
          string,
          unknown
        >;
      };
      switch (message.type) {
        case "connection_init":
          this.connectionParams.push(message.payload ?? {});
          socket.send(JSON.stringify({ type: "connection_ack" }));
          break;
        case "ping":
          socket.send(JSON.stringify({ type: "pong" }));
          break;
        case "subscribe": {
          const query = message.payload?.query ?? "";
          const subscription: ScriptedSubscription = {
            id: message.id ?? "",
            operationName: message.payload?.operationName ?? /^\s*subscription\s+(\w+)/m.exec(query)?.[1],
            variables: message.payload?.variables ?? {},
            active: true,
            socket,
          };
          this.subscriptions.push(subscription);
          const ready = this.waiters.filter((waiter) => waiter.match(subscription));
          this.waiters = this.waiters.filter((waiter) => !ready.includes(waiter));
          for (const waiter of ready) waiter.resolve(subscription);
          break;
        }
        case "complete":
          for (const subscription of this.subscriptions) {
            if (subscription.socket === socket && subscription.id === message.id) subscription.active = false;
          }
          break;
        default:
          break;
      }
    });
  }
}
