import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { startTestGateway, type TestGateway } from "../../../test/support/gateway";
import { mountWebRoutes } from "../routes";

/** A test gateway and the URL where its web pages are served. */
export interface WebTestGateway extends TestGateway {
  /** The base URL to open pages at; the same as `url` once app.ts mounts the web routes itself. */
  webUrl: string;
}

/** `startTestGateway()` with the web UI reachable (see `withWebFront`). */
export async function startWebTestGateway(
  options: Parameters<typeof startTestGateway>[0] & { playgroundEnabled?: boolean } = {},
): Promise<WebTestGateway> {
  return withWebFront(await startTestGateway(options), options);
}

/**
 * The web UI in front of a running test gateway. When the gateway does not serve `/dashboard` itself
 * (src/server/app.ts does not call `mountWebRoutes` yet), a small front server does: the web routes first,
 * then the gateway's own Express app for everything else, and WebSocket upgrades handed to the gateway's
 * server, so pages, `/graphql` and graphql-ws share one origin as they will in production. Once app.ts
 * mounts the routes, this returns the gateway's own URL and adds nothing.
 */
export async function withWebFront(
  t: TestGateway,
  options: { playgroundEnabled?: boolean } = {},
): Promise<WebTestGateway> {
  const probe = await fetch(`${t.url}/dashboard`, { headers: { accept: "text/html" } });
  await probe.arrayBuffer();
  if (probe.status !== 404) return { ...t, webUrl: t.url };

  const gatewayApp = t.gateway.httpServer.listeners("request")[0] as RequestListener | undefined;
  if (!gatewayApp) throw new Error("the test gateway's HTTP server has no request listener");
  const front = express();
  mountWebRoutes(front, {
    playgroundEnabled: options.playgroundEnabled ?? t.gateway.config.playgroundEnabled,
  });
  front.use((req: IncomingMessage, res: ServerResponse) => gatewayApp(req, res));
  const server = createServer(front);
  server.on("upgrade", (req, socket, head) => t.gateway.httpServer.emit("upgrade", req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...t,
    webUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
    },
  };
}
