import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import type { Logger } from "pino";
import type { GatewayContext } from "../auth/context";
import type { RawRoute } from "../composition/gateway-module";
import { guardRequests, requestIdOf } from "./http-guard";
import type { ContextFactory } from "./request-context";
import { ErrorCode } from "../errors/app-error";

/** Operations one batched HTTP request may hold (more: 400 BAD_REQUEST, nothing run). */
export const MAX_BATCH_OPERATIONS = 10;

export interface HttpFront {
  readonly app: Express;
  readonly httpServer: Server;
}

/**
 * The HTTP server. Every request enters through one guard (nothing a request does can throw past it into the
 * process); the raw routes (pod callbacks, artifact bodies) are tried first, in order, and everything else is
 * Express's, which gives each request its id.
 */
export function createHttpFront(logger: Logger, routes: readonly RawRoute[]): HttpFront {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const requestId = requestIdOf(req);
    res.setHeader("x-request-id", requestId);
    res.locals.requestId = requestId;
    next();
  });
  const httpServer = createServer(
    guardRequests(logger, (req, res) => {
      if (routes.some((route) => route(req, res))) return;
      app(req, res);
    }),
  );
  // An idle keep-alive connection is closed by the client first (undici after 4 s, load balancers after 60 s),
  // never by us just as the client reuses it: that race answers the client's next request with ECONNRESET.
  httpServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  httpServer.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  return { app, httpServer };
}

/** How long an idle keep-alive connection stays open: longer than any client or proxy keeps one. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** What Express serves, in order: `handlers` (health, pages), `/graphql`, then 404 and the error answer. */
export function mountExpressRoutes(
  app: Express,
  deps: {
    handlers: readonly RequestHandler[];
    apollo: ApolloServer<GatewayContext>;
    contextFor: ContextFactory;
    logger: Logger;
    /** What a GraphQL request must pass after the batch bound, before Apollo (the safelist of PERSISTED_QUERIES=only). */
    guards?: readonly RequestHandler[];
  },
): void {
  for (const handler of deps.handlers) app.use(handler);
  app.use(
    "/graphql",
    express.json({ limit: "1mb" }),
    (req: Request, res: Response, next: NextFunction) => {
      const body: unknown = req.body;
      if (!Array.isArray(body) || body.length <= MAX_BATCH_OPERATIONS) return next();
      res.status(400).json({
        errors: [
          {
            message: `a batch holds at most ${MAX_BATCH_OPERATIONS} operations (this one has ${body.length})`,
            extensions: { code: ErrorCode.BAD_REQUEST },
          },
        ],
      });
    },
    ...(deps.guards ?? []),
    expressMiddleware(deps.apollo, {
      context: ({ req, res }) => {
        // A batch counts each of its operations against the caller's rate.
        const body: unknown = req.body;
        return deps.contextFor(
          req.header("authorization"),
          String(res.locals.requestId ?? randomUUID()),
          true,
          Array.isArray(body) ? Math.max(1, body.length) : 1,
        );
      },
    }),
  );
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: "not found" });
  });
  app.use(
    (
      error: Error & { status?: number; type?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      const status = error.status ?? 500;
      if (status >= 500)
        deps.logger.error(
          { err: error, requestId: res.locals.requestId as string | undefined },
          "request failed",
        );
      res.status(status).json({
        error:
          error.type === "entity.too.large"
            ? "request body too large"
            : error.type === "entity.parse.failed"
              ? "malformed JSON body"
              : status >= 500
                ? "internal server error"
                : error.message,
      });
    },
  );
}

/** Starts listening; `onListening` runs once it does. Resolves with the base URL (`http://host:port`). */
export function listen(
  httpServer: Server,
  port: number,
  host: string,
  onListening: () => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, () => {
      httpServer.off("error", reject);
      onListening();
      const address = httpServer.address() as AddressInfo;
      const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host;
      resolve(`http://${shownHost}:${address.port}`);
    });
  });
}
