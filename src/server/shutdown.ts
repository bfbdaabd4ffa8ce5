import type { Server } from "node:http";
import type { ApolloServer } from "@apollo/server";
import type { GatewayContext } from "../auth/context";
import type { GatewayModule } from "../composition/gateway-module";
import type { BackgroundWorker } from "./background";
import type { Infrastructure } from "./infrastructure";

export interface ShutdownParts {
  background: BackgroundWorker;
  apollo: ApolloServer<GatewayContext>;
  httpServer: Server;
  modules: readonly GatewayModule[];
  infrastructure: Infrastructure;
  /** The persisted-query cache's Redis connection, if any. */
  persistedQueries: { close(): Promise<void> };
  /** The RunPod endpoint the gateway was given (the built-in simulator), closed with it. */
  upstream?: { close(): Promise<void> };
}

/**
 * The gateway's close, once however often it is called: the background work stops, Apollo drains requests and
 * sockets, the server stops listening, the modules let go, then the bus, the limiter, the persisted-query cache,
 * the upstream and the database close.
 */
export function shutdownSequence(parts: ShutdownParts): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const close = async () => {
    await parts.background.stop();
    await parts.apollo.stop();
    const { httpServer } = parts;
    if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    for (const module of parts.modules) await module.close?.();
    await parts.infrastructure.bus.close();
    await parts.infrastructure.limiter.close();
    await parts.persistedQueries.close();
    await parts.upstream?.close();
    await parts.infrastructure.db.close();
  };
  return () => {
    if (closing) return Promise.resolve();
    closing = close();
    return closing;
  };
}
