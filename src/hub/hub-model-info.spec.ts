import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HubModelInfoClient } from "./hub-model-info";

/** A local stand-in for the Hub: tests never reach the internet. */
describe("HubModelInfoClient", () => {
  let server: Server;
  let endpoint: string;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const logged: string[] = [];
  /** Resolves when the client hangs up on the Hub that never answers. */
  let slowClosed: Promise<void> = new Promise(() => undefined);
  const logger = {
    debug: (obj: Record<string, unknown>, msg: string) => void logged.push(JSON.stringify({ obj, msg })),
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      if (req.url === "/api/models/acme/slow-7B") {
        slowClosed = new Promise((resolve) => req.socket.once("close", () => resolve()));
        return; // never answers
      }
      if (req.url === "/api/models/acme/sized") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ safetensors: { parameters: { F32: 5e8 }, total: 5e8 } }));
        return;
      }
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "Invalid credentials in Authorization header" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("reads the parameters by dtype from the Hub, sending the token as a Bearer header only", async () => {
    const client = new HubModelInfoClient({ endpoint, logger });
    expect(await client.modelSize("acme/sized", "hf_secretsecret")).toEqual({
      parameters: 5e8,
      downloadBytes: 2e9,
      source: "hub",
    });
    expect(seen.at(-1)).toMatchObject({
      url: "/api/models/acme/sized",
      headers: { authorization: "Bearer hf_secretsecret" },
    });
  });

  it("falls back to the model id when the Hub refuses, and to nothing when the id says nothing", async () => {
    const client = new HubModelInfoClient({ endpoint, logger });
    expect(await client.modelSize("acme/private-Llama-3-8B", "hf_secretsecret")).toEqual({
      parameters: 8e9,
      downloadBytes: 16e9,
      source: "model id",
    });
    expect(await client.modelSize("acme/unsized")).toBeNull();
    expect(logged.join("\n")).not.toContain("hf_secretsecret");
  });

  it("gives up on a Hub that does not answer within the timeout", async () => {
    const client = new HubModelInfoClient({ endpoint, timeoutMs: 200, logger });
    expect(await client.modelSize("acme/slow-7B")).toMatchObject({ parameters: 7e9, source: "model id" });
    // It gave up on the request rather than leave it open.
    await expect(slowClosed).resolves.toBeUndefined();
  });
});
