import { randomUUID } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { sendJson } from "../http/send-json";

const REQUEST_ID = /^[\w.-]{1,100}$/;
const requestIds = new WeakMap<IncomingMessage, string>();

/** The request's id: the caller's `X-Request-Id` when it is well formed, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (id === undefined) {
    const incoming = req.headers["x-request-id"];
    id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

/** A request the gateway cannot make sense of (a malformed escape in its path, say): answered 400. */
export class MalformedRequestError extends Error {}

/**
 * The one entry of every HTTP request. Whatever a handler throws, synchronously or from the promise it
 * returns, is answered here (400 for a malformed request, 500 otherwise, each with the request id) and logged
 * with the request id, method and route; it never reaches the process. A response already under way is cut
 * off instead, since its status line has gone out.
 */
export function guardRequests(
  logger: Logger,
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): RequestListener {
  const answer = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    const requestId = requestIdOf(req);
    const malformed = error instanceof MalformedRequestError || error instanceof URIError;
    // The path only up to its query: a query string may carry a token.
    const route = (req.url ?? "").split("?")[0]?.slice(0, 200);
    if (malformed)
      logger.warn({ requestId, method: req.method, route, err: String(error) }, "malformed request");
    else logger.error({ requestId, method: req.method, route, err: error }, "request handler failed");
    if (res.headersSent || res.writableEnded) {
      res.destroy();
      return;
    }
    sendJson(
      res,
      malformed ? 400 : 500,
      { error: malformed ? "malformed request" : "internal server error", requestId },
      { "x-request-id": requestId, connection: "close" },
    );
  };
  return (req, res) => {
    try {
      const pending = handler(req, res);
      if (pending) pending.catch((error: unknown) => answer(req, res, error));
    } catch (error) {
      answer(req, res, error);
    }
  };
}

/**
 * The process's last resort: a rejection nobody awaited is logged and the process keeps serving (one failed
 * background promise must not drop every socket); an exception that escaped every handler leaves the process
 * in an unknown state, so it is logged and the process exits through `shutdown`.
 */
export function installLastResortHandlers(logger: Logger, shutdown: (reason: string) => void): void {
  process.on("unhandledRejection", (reason: unknown) => {
    logger.error({ err: reason }, "unhandled promise rejection (the gateway keeps running)");
  });
  process.on("uncaughtException", (error: Error) => {
    logger.fatal({ err: error }, "uncaught exception: shutting down");
    shutdown("uncaughtException");
  });
}
