import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { hostOf, refusedAddress } from "./webhook-address";

/** The limits of one attempt (README "Webhooks"). */
export interface SendLimits {
  /** The whole attempt: connect, send, first bytes of the answer. */
  timeoutMs: number;
  /** Bytes of the answer read; the rest is dropped with the connection. */
  maxResponseBytes: number;
  /** Loopback and private addresses allowed (`WEBHOOK_ALLOW_PRIVATE`). */
  allowPrivate: boolean;
}

export const DEFAULT_SEND_LIMITS: Omit<SendLimits, "allowPrivate"> = {
  timeoutMs: 5_000,
  maxResponseBytes: 4_096,
};

/** What one attempt got: the status (when an answer came), its first bytes, or why it failed. */
export interface SendResult {
  statusCode: number | null;
  latencyMs: number;
  /** Null when the endpoint answered 2xx. */
  error: string | null;
  responseExcerpt: string | null;
}

/**
 * POSTs `body` once. Redirects are not followed (a 3xx is a failure), the connection is never reused, and the
 * address it connects to is checked after resolution, on every attempt: a name that resolved to a public
 * address at creation and to 127.0.0.1 now (DNS rebinding) is refused here.
 */
export function sendWebhook(
  target: string,
  headers: Record<string, string>,
  body: string,
  limits: SendLimits,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(target);
  const failed = (error: string, statusCode: number | null = null, excerpt: string | null = null) => ({
    statusCode,
    latencyMs: elapsed(),
    error,
    responseExcerpt: excerpt,
  });
  // An IP literal is connected to without a lookup: check it here.
  const literal = isIP(hostOf(url)) ? refusedAddress(hostOf(url)) : undefined;
  if (literal && !limits.allowPrivate) return Promise.resolve(failed(`refused: ${literal}`));
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = (url.protocol === "https:" ? https : http).request(url, {
      method: "POST",
      agent: false,
      lookup: limits.allowPrivate ? undefined : checkedLookup,
      headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => {
      request.destroy();
      finish(failed(`timed out after ${limits.timeoutMs} ms`));
    }, limits.timeoutMs);
    request.on("error", (error) => finish(failed(error.message)));
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        response.destroy();
        const status = response.statusCode ?? 0;
        const excerpt = Buffer.concat(chunks).subarray(0, limits.maxResponseBytes).toString("utf8");
        finish({
          statusCode: status,
          latencyMs: elapsed(),
          error: status >= 200 && status < 300 ? null : `the endpoint answered ${status}`,
          responseExcerpt: excerpt.length > 0 ? excerpt : null,
        });
      };
      response.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= limits.maxResponseBytes) done();
      });
      response.on("end", done);
      response.on("error", done);
    });
    request.end(body);
  });
}

/** `dns.lookup`, refusing every non-public address it resolves to (both of Node's calling conventions). */
const checkedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 0);
    const refused = addresses.map((a) => refusedAddress(a.address)).find((why) => why !== undefined);
    if (refused) return callback(new Error(`refused: ${hostname} resolves to ${refused}`), "", 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};
