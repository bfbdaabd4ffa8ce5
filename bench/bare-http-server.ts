/**
 * The ingest bench's ceiling: a bare node:http server that reads the body, parses the JSON and answers 200 with
 * the same response shape as the gateway's metrics route. No routing framework, no auth, no database.
 * Prints "ready <url>".
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let accepted: number;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { metrics?: unknown[] };
      accepted = Array.isArray(body.metrics) ? body.metrics.length : 1;
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"malformed JSON"}');
      return;
    }
    const reply = JSON.stringify({ status: "ok", accepted, stop: false });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(reply);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
process.on("disconnect", () => process.exit(0));
