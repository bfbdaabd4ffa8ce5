/**
 * The fan-out and memory benches' ceiling: the same path a metric takes through the gateway (HTTP POST ->
 * Redis PUBLISH -> every replica's Redis subscriber -> each WebSocket subscriber), with nothing else: no GraphQL,
 * no database, no auth. Speaks just enough graphql-transport-ws (connection_init/ack, subscribe, complete, next)
 * for bench/lib/gql-ws.ts, and takes POSTs on the gateway's own path. Prints "ready <url>".
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import Redis from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const publisher = new Redis(REDIS_URL);
const subscriber = new Redis(REDIS_URL);

interface Subscription {
  socket: WebSocket;
  id: string;
}
/** Subscribers by job id. */
const byJob = new Map<string, Set<Subscription>>();
const channelOf = (jobId: string) => `job/${jobId}/metric`;

subscriber.on("message", (channel: string, message: string) => {
  const event = JSON.parse(message) as { jobId: string; points: Record<string, unknown>[] };
  const subs = byJob.get(event.jobId);
  if (!subs) return;
  for (const point of event.points) {
    const data = { trainingMetrics: { ...point, timestamp: point.recordedAt } };
    for (const { socket, id } of subs) socket.send(JSON.stringify({ id, type: "next", payload: { data } }));
  }
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const server = createServer((req, res) => {
  const match = /^\/api\/training\/jobs\/([^/]+)\/metrics$/.exec(req.url ?? "");
  if (req.method !== "POST" || !match) {
    res.writeHead(404).end();
    return;
  }
  const jobId = match[1];
  readBody(req)
    .then(async (text) => {
      const body = JSON.parse(text) as { metrics: Record<string, unknown>[] };
      const recordedAt = new Date().toISOString();
      const points = body.metrics.map((p) => ({ jobId, ...p, recordedAt }));
      await publisher.publish(channelOf(jobId), JSON.stringify({ jobId, points }));
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "ok", accepted: points.length, stop: false }));
    })
    .catch(() => res.writeHead(400).end());
});

const wss = new WebSocketServer({ server, path: "/graphql" });
wss.on("connection", (socket) => {
  const mine: { jobId: string; sub: Subscription }[] = [];
  socket.on("message", (data: Buffer) => {
    const message = JSON.parse(data.toString("utf8")) as {
      type: string;
      id?: string;
      payload?: { variables?: { jobId?: string } };
    };
    switch (message.type) {
      case "connection_init":
        socket.send('{"type":"connection_ack"}');
        return;
      case "ping":
        socket.send('{"type":"pong"}');
        return;
      case "subscribe": {
        const jobId = message.payload?.variables?.jobId ?? "";
        const sub = { socket, id: message.id ?? "" };
        let subs = byJob.get(jobId);
        if (!subs) {
          subs = new Set();
          byJob.set(jobId, subs);
          void subscriber.subscribe(channelOf(jobId));
        }
        subs.add(sub);
        mine.push({ jobId, sub });
        return;
      }
      case "complete":
        for (const { jobId, sub } of mine) if (sub.id === message.id) remove(jobId, sub);
        return;
    }
  });
  socket.on("close", () => {
    for (const { jobId, sub } of mine) remove(jobId, sub);
  });
});

function remove(jobId: string, sub: Subscription): void {
  const subs = byJob.get(jobId);
  if (!subs?.delete(sub) || subs.size > 0) return;
  byJob.delete(jobId);
  void subscriber.unsubscribe(channelOf(jobId));
}

// Listen only once both Redis connections are ready: a SUBSCRIBE sent during ioredis's ready check is lost
// silently (redis/ioredis#2037: it collides with the INFO ready check, fixed only in ioredis 6).
const ready = (client: Redis) =>
  client.status === "ready"
    ? Promise.resolve()
    : new Promise<void>((resolve) => client.once("ready", () => resolve()));
void Promise.all([ready(publisher), ready(subscriber)]).then(() =>
  server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
    process.stdout.write(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  }),
);
const stop = () => {
  publisher.disconnect();
  subscriber.disconnect();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
// The memory bench asks for memory figures over IPC, after a full GC when node runs with --expose-gc.
process.on("message", (message: { type?: string; gc?: boolean }) => {
  if (message.type !== "mem") return;
  const collect = (globalThis as { gc?: () => void }).gc;
  if (message.gc && collect) collect();
  process.send?.({ type: "mem", usage: process.memoryUsage(), gc: Boolean(message.gc && collect) });
});
