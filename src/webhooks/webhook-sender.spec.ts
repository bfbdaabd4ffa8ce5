import { createServer, type RequestListener, type Server } from "node:http";
import { sendWebhook, type SendLimits } from "./webhook-sender";

/** The sender against real servers on random ports. */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

async function serve(handler: RequestListener): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? "");
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, hits };
}

// A timeout no answer from a local server comes near, even on a loaded machine; the timeout test sets its own.
const LIMITS: SendLimits = { timeoutMs: 10_000, maxResponseBytes: 4_096, allowPrivate: true };

describe("sendWebhook", () => {
  it("posts the body with its headers and reports the status, latency and answer", async () => {
    let seen: { body: string; signature: unknown; type: unknown } | undefined;
    const { port } = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        seen = {
          body: Buffer.concat(chunks).toString(),
          signature: req.headers["x-traingate-signature"],
          type: req.headers["content-type"],
        };
        res.writeHead(202).end("queued");
      });
    });
    const result = await sendWebhook(
      `http://127.0.0.1:${port}/in`,
      { "X-TrainGate-Signature": "t=1,v1=ab" },
      "{}",
      LIMITS,
    );
    expect(result).toMatchObject({ statusCode: 202, error: null, responseExcerpt: "queued" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(seen).toEqual({ body: "{}", signature: "t=1,v1=ab", type: "application/json" });
  });

  it("does not follow a redirect: a 3xx is a failed attempt", async () => {
    const target = await serve((_, res) => res.writeHead(200).end());
    const { port } = await serve((_, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/elsewhere` }).end(),
    );
    const result = await sendWebhook(`http://127.0.0.1:${port}/in`, {}, "{}", LIMITS);
    expect(result).toMatchObject({ statusCode: 302, error: "the endpoint answered 302" });
    expect(target.hits).toEqual([]);
  });

  it("gives up on an endpoint that does not answer within the timeout", async () => {
    let closed!: Promise<void>;
    const { port } = await serve((req) => {
      closed = new Promise((resolve) => req.socket.once("close", () => resolve()));
    });
    const result = await sendWebhook(`http://127.0.0.1:${port}/in`, {}, "{}", { ...LIMITS, timeoutMs: 300 });
    expect(result).toMatchObject({ statusCode: null, error: "timed out after 300 ms" });
    // The sender hung up: nothing is left waiting on the endpoint (the endpoint itself never ends it).
    await expect(closed).resolves.toBeUndefined();
  });

  it("reads at most 4 KiB of an answer and drops the rest with the connection", async () => {
    const { port } = await serve((_, res) => {
      res.writeHead(500);
      // 1 MiB, never ended: the sender must not wait for it.
      res.write(Buffer.alloc(1 << 20, "x"));
    });
    const result = await sendWebhook(`http://127.0.0.1:${port}/in`, {}, "{}", LIMITS);
    expect(result.statusCode).toBe(500);
    expect(result.responseExcerpt).toHaveLength(4_096);
  });

  it("refuses, when it connects, a name that resolves to a private address, and an address literal", async () => {
    const { port, hits } = await serve((_, res) => res.writeHead(200).end());
    const strict = { ...LIMITS, allowPrivate: false };
    const byName = await sendWebhook(`http://localhost:${port}/in`, {}, "{}", strict);
    expect(byName.error).toMatch(/^refused: localhost resolves to (127\.0\.0\.1|::1) is a loopback, private/);
    const literal = await sendWebhook(`http://127.0.0.1:${port}/in`, {}, "{}", strict);
    expect(literal.error).toMatch(/^refused: 127\.0\.0\.1 is a loopback, private/);
    expect(hits).toEqual([]);
  });
});
