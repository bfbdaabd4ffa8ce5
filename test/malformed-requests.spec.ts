import { createServer, type Server } from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { guardRequests } from "../src/server/http-guard";
import { createLogger } from "../src/server/logger";
import { newDeployment } from "./support/factories";
import { LogCapture, startTestGateway, type TestGateway } from "./support/gateway";

let t: TestGateway;
let host: string;
let port: number;
beforeAll(async () => {
  t = await startTestGateway();
  const url = new URL(t.url);
  host = url.hostname;
  port = Number(url.port);
});
afterAll(() => t.close());

/**
 * Sends raw bytes (whatever fetch would refuse to send) and answers the status line's code, or 0 when the
 * server closed the connection without one.
 */
function raw(request: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer in 10 s")));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : 0, text });
    });
    // Half-closing at once would let the server drop an answer it writes later; a request that never completes
    // (a body shorter than its Content-Length) is half-closed after a while, as a client giving up would.
    socket.write(request);
    setTimeout(() => socket.end(), 1_000).unref();
  });
}

async function healthy(): Promise<void> {
  const res = await fetch(`${t.url}/healthz`);
  expect(res.status).toBe(200);
}

const BAD_SEGMENTS = [
  "%ZZ",
  "%E0%A4%A",
  "%",
  "%%",
  "%C0%AF",
  "%ED%A0%80",
  "%u0041",
  "a%2",
  "%00",
  "..%2F..%2F",
];
const ROUTES = (segment: string) => [
  `/api/training/jobs/${segment}/metrics`,
  `/api/training/jobs/${segment}/status`,
  `/api/training/jobs/${segment}/metrics/?x=%ZZ`,
  `/graphql?query=${segment}`,
  `/graphql/${segment}`,
  `/dashboard/deployments/${segment}`,
  `/dashboard/assets/${segment}`,
  `/playground/assets/${segment}`,
  `/${segment}`,
  `/healthz/${segment}`,
];

describe("malformed requests never take the gateway down", () => {
  it("answers a malformed escape in a pod callback's job id as an unknown job (401), and keeps serving", async () => {
    for (const segment of ["%ZZ", "%E0%A4%A"]) {
      const res = await fetch(`${t.url}/api/training/jobs/${segment}/metrics`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x" },
        body: JSON.stringify({ step: 1, loss: 1 }),
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthorized" });
    }
    await healthy();
  });

  it("answers every malformed path on every route with a 4xx, never a 5xx or a dropped socket", async () => {
    const answers: string[] = [];
    for (const segment of BAD_SEGMENTS) {
      for (const route of ROUTES(segment)) {
        for (const method of ["GET", "POST"]) {
          const res = await raw(
            `${method} ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer x\r\n` +
              `Content-Length: 2\r\nConnection: close\r\n\r\n{}`,
          );
          if (res.status < 200 || res.status >= 500)
            answers.push(`${method} ${route} -> ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
    }
    expect(answers).toEqual([]);
    await healthy();
  });

  it("survives malformed request lines, headers and bodies", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "malformed-user");
    const callback = `/api/training/jobs/${rows.job.id}/metrics`;
    const corpus: (string | Buffer)[] = [
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
      Buffer.concat([Buffer.from("GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", "latin1")]),
      `POST ${callback} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rows.jobToken}\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\xff\xfe{[`,
      `POST ${callback} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rows.jobToken}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{"step":`,
      `POST ${callback} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %ZZ\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      `POST ${callback} HTTP/1.1\r\nHost: x\r\nAuthorization: ${"Bearer ".repeat(1000)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"query":`,
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=utf-99\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: %ZZ\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{"query":"{"}`,
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * 5000}\r\nConnection: close\r\n\r\n${"[".repeat(5000)}${"]".repeat(5000)}`,
      `GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %ZZ\r\nSec-WebSocket-Version: 99\r\n\r\n`,
      `GET /graphql?%ZZ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
    ];
    for (const request of corpus) {
      const res = await raw(request);
      expect(res.status === 0 || res.status === 101 || res.status < 500).toBe(true);
      await healthy();
    }
  });

  it("answers a handler's exception with a 500 that carries the request id, and logs it", async () => {
    const logs = new LogCapture();
    const server: Server = createServer(
      guardRequests(createLogger("info", logs), (req) => {
        if (req.url === "/sync") throw new Error("sync failure");
        return Promise.reject(new Error("async failure"));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const route of ["/sync", "/async"]) {
        const res = await fetch(`${base}${route}`, { headers: { "x-request-id": `req-${route.slice(1)}` } });
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({
          error: "internal server error",
          requestId: `req-${route.slice(1)}`,
        });
      }
      expect(logs.text).toContain('"requestId":"req-sync"');
      expect(logs.text).toContain("sync failure");
      expect(logs.text).toContain('"requestId":"req-async"');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
