import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";

/** An answer to an outgoing request. `body` is the parsed JSON, the raw text when it is not JSON, or null. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface OutgoingRequest {
  readonly body?: unknown;
  /** Bytes to send as they are (with the caller's content headers) instead of a JSON `body`. */
  readonly raw?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * One JSON request with node's http client, no keep-alive agent (`agent: false`), so that no pooled socket
 * outlives the simulator and jest exits cleanly. Rejects on network errors, timeouts and aborts.
 */
export function requestJson(method: string, url: string, options: OutgoingRequest): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new Error("aborted"));
      return;
    }
    const target = new URL(url);
    const payload =
      options.raw ?? (options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body)));
    const transport = target.protocol === "https:" ? https : http;
    const req = transport.request(target, {
      method,
      agent: false,
      headers: {
        accept: "application/json",
        ...(payload === undefined
          ? {}
          : {
              "content-type": options.raw ? "application/octet-stream" : "application/json",
              "content-length": String(payload.length),
            }),
        ...options.headers,
      },
    });
    let settled = false;
    const finish = (error: Error | null, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (error !== null) reject(error);
      else if (answer !== undefined) resolve(answer);
    };
    const onAbort = (): void => {
      req.destroy();
      finish(new Error("aborted"));
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error("timeout"));
    }, options.timeoutMs);
    timer.unref();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (error) => finish(error));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          res.destroy();
          finish(new Error("answer too large"));
          return;
        }
        chunks.push(chunk);
      });
      res.on("error", (error) => finish(error));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text === "" ? null : text;
        try {
          if (text !== "") body = JSON.parse(text) as unknown;
        } catch {
          // not JSON: keep the text
        }
        finish(null, { status: res.statusCode ?? 0, body });
      });
    });
    req.end(payload);
  });
}

/** Reads a request body up to `limit` bytes; rejects (and the caller answers 413) above it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export class BodyTooLargeError extends Error {
  constructor() {
    super("request body too large");
    this.name = "BodyTooLargeError";
  }
}

/** Writes a JSON answer unless the client has already gone away. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

/** Writes a plain-text answer (an upstream proxy's 5xx page) unless the client has gone away. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** The bearer token of a request, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
