import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import express, { type Request, type Response } from "express";
import { CONTENT_SECURITY_POLICY, findWebRoot, mountWebRoutes } from "./routes";

const BROWSER_ACCEPT =
  "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
const SCRIPT = "console.log('dashboard');".repeat(100);

/** A built web UI in miniature: both pages and a few assets, the way build.ts lays them out. */
function fakeWebRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "traingate-web-"));
  for (const app of ["playground", "dashboard"]) {
    mkdirSync(path.join(root, app, "assets"), { recursive: true });
    writeFileSync(path.join(root, app, "index.html"), `<!doctype html><title>${app}</title>`);
  }
  const script = path.join(root, "dashboard", "assets", "dashboard-ABC123.js");
  writeFileSync(script, SCRIPT);
  writeFileSync(`${script}.br`, brotliCompressSync(SCRIPT));
  writeFileSync(`${script}.gz`, gzipSync(SCRIPT));
  writeFileSync(path.join(root, "dashboard", "assets", "favicon-0A1B2C3D.svg"), "<svg/>");
  writeFileSync(path.join(root, "playground", "assets", "playground-DEF456.css"), "body{}");
  return root;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A raw HTTP request (no automatic decompression, unlike fetch). */
function send(
  server: Server,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** The web routes in front of stand-ins for Apollo and the gateway's 404 handler, as app.ts mounts them. */
async function serve(options: { playgroundEnabled: boolean; root: string }): Promise<Server> {
  const app = express();
  mountWebRoutes(app, options);
  app.use("/graphql", (_req: Request, res: Response) => {
    res.json({ answeredBy: "apollo" });
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: "not found" });
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe("mountWebRoutes", () => {
  const root = fakeWebRoot();
  let server: Server;
  beforeAll(async () => {
    server = await serve({ playgroundEnabled: true, root });
  });
  afterAll(() => close(server));

  test.each([
    ["/dashboard", "dashboard", 200],
    ["/dashboard/", "dashboard", 200],
    ["/dashboard/new", "dashboard", 200],
    ["/dashboard/deployments/0b9c7c1e-5b1a-4c55-9d8e-1f2a3b4c5d6e", "dashboard", 200],
    ["/dashboard/no/such/page", "dashboard", 404],
    ["/playground", "playground", 200],
    ["/playground/", "playground", 200],
  ] as const)("GET %s serves the %s page (%i), never cached, under its CSP", async (target, app, status) => {
    const answer = await send(server, "GET", target, { accept: BROWSER_ACCEPT });
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toMatch(/^text\/html/);
    expect(answer.headers["cache-control"]).toBe("no-cache");
    expect(answer.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY[app]);
    expect(answer.headers["x-content-type-options"]).toBe("nosniff");
    expect(answer.body.toString()).toContain(`<title>${app}</title>`);
  });

  test.each([
    ["a browser", BROWSER_ACCEPT, "playground"],
    ["text/html alone", "text/html", "playground"],
    ["a GraphQL client", "application/graphql-response+json, application/json", "apollo"],
    ["JSON", "application/json", "apollo"],
    ["anything (curl)", "*/*", "apollo"],
    ["no Accept header", undefined, "apollo"],
  ])("GET /graphql from %s (Accept: %s) is answered by the %s", async (_who, accept, expected) => {
    const answer = await send(server, "GET", "/graphql", accept === undefined ? {} : { accept });
    expect(answer.status).toBe(200);
    if (expected === "playground") expect(answer.body.toString()).toContain("<title>playground</title>");
    else expect(JSON.parse(answer.body.toString())).toEqual({ answeredBy: "apollo" });
  });

  test("POST /graphql always goes on to Apollo", async () => {
    const answer = await send(server, "POST", "/graphql", { accept: BROWSER_ACCEPT });
    expect(JSON.parse(answer.body.toString())).toEqual({ answeredBy: "apollo" });
  });

  test.each([
    ["br, gzip", "br", brotliCompressSync(SCRIPT)],
    ["gzip, deflate", "gzip", gzipSync(SCRIPT)],
    ["identity", undefined, Buffer.from(SCRIPT)],
  ])(
    "an asset asked for with Accept-Encoding: %s comes with Content-Encoding: %s, cached for good",
    async (accepted, encoding, body) => {
      const answer = await send(server, "GET", "/dashboard/assets/dashboard-ABC123.js", {
        "accept-encoding": accepted,
      });
      expect(answer.status).toBe(200);
      expect(answer.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(answer.headers["content-encoding"]).toBe(encoding);
      expect(answer.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(answer.headers.vary).toMatch(/Accept-Encoding/);
      expect(answer.body.equals(body)).toBe(true);
    },
  );

  test("an asset with no compressed copy is sent as it is", async () => {
    const answer = await send(server, "GET", "/playground/assets/playground-DEF456.css", {
      "accept-encoding": "br",
    });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(answer.headers["content-encoding"]).toBeUndefined();
    expect(answer.body.toString()).toBe("body{}");
  });

  test("HEAD is answered like GET, without a body", async () => {
    const answer = await send(server, "HEAD", "/dashboard/assets/favicon-0A1B2C3D.svg");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("image/svg+xml");
    expect(answer.body.byteLength).toBe(0);
  });

  test.each([
    "/dashboard/assets/dashboard-MISSING.js",
    "/dashboard/assets/..%2F..%2Findex.html",
    "/dashboard/assets/.hidden",
    "/dashboard/assets/%2e%2e",
    "/playground/assets/dashboard-ABC123.js",
  ])("%s is 404", async (target) => {
    const answer = await send(server, "GET", target);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString())).toEqual({ error: "not found" });
  });
});

describe("mountWebRoutes with the playground switched off", () => {
  let server: Server;
  beforeAll(async () => {
    server = await serve({ playgroundEnabled: false, root: fakeWebRoot() });
  });
  afterAll(() => close(server));

  test.each(["/playground", "/playground/", "/playground/assets/playground-DEF456.css"])(
    "%s is 404",
    async (target) => {
      expect((await send(server, "GET", target, { accept: BROWSER_ACCEPT })).status).toBe(404);
    },
  );

  test("a browser's GET /graphql is 404; other clients still reach Apollo", async () => {
    expect((await send(server, "GET", "/graphql", { accept: BROWSER_ACCEPT })).status).toBe(404);
    const api = await send(server, "GET", "/graphql", { accept: "application/json" });
    expect(JSON.parse(api.body.toString())).toEqual({ answeredBy: "apollo" });
  });

  test("the dashboard is still served", async () => {
    expect((await send(server, "GET", "/dashboard", { accept: BROWSER_ACCEPT })).status).toBe(200);
  });
});

describe("mountWebRoutes before the web UI is built", () => {
  test("pages answer 503 with what to run", async () => {
    const server = await serve({
      playgroundEnabled: true,
      root: mkdtempSync(path.join(os.tmpdir(), "traingate-web-")),
    });
    try {
      const answer = await send(server, "GET", "/dashboard");
      expect(answer.status).toBe(503);
      expect(answer.body.toString()).toContain("npm run build:web");
    } finally {
      await close(server);
    }
  });
});

describe("findWebRoot", () => {
  test("walks up to the nearest dist/web that holds a build", () => {
    const top = mkdtempSync(path.join(os.tmpdir(), "traingate-root-"));
    mkdirSync(path.join(top, "dist", "web", "dashboard"), { recursive: true });
    writeFileSync(path.join(top, "dist", "web", "dashboard", "index.html"), "");
    const deep = path.join(top, "dist", "src", "web");
    mkdirSync(deep, { recursive: true });
    expect(findWebRoot(deep)).toBe(path.join(top, "dist", "web"));
    expect(findWebRoot(path.join(top, "src", "web"))).toBe(path.join(top, "dist", "web"));
  });

  test("is undefined when nothing was built", () => {
    expect(findWebRoot(mkdtempSync(path.join(os.tmpdir(), "traingate-none-")))).toBeUndefined();
  });
});
