import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { signDevToken } from "../src/auth/jwt";
import { dropTestDatabases, freshDatabase } from "./support/database";
import { TEST_ENCRYPTION_KEY, TEST_JWT_SECRET } from "./support/gateway";

afterAll(() => dropTestDatabases());

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm start`'s entry point (src/server/main.ts), as an operator runs it: no NODE_ENV=test. */
async function startMain(): Promise<Started> {
  const database = process.env.DATABASE_URL ? await freshDatabase() : undefined;
  const child = spawn(
    process.execPath,
    ["-r", path.join(__dirname, "support/register-ts.js"), path.join(__dirname, "../src/server/main.ts")],
    {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: "development",
        HOST: "127.0.0.1",
        PORT: "0",
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "traingate-shutdown-")),
        JWT_SECRET: TEST_JWT_SECRET,
        ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        // Well above what a clean shutdown needs, and well below the drain timeouts of the libraries.
        SHUTDOWN_TIMEOUT_MS: "4000",
        ...(database?.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
        ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) resolve(match[1].replace("localhost", "127.0.0.1"));
    };
    child.stdout.on("data", check);
    void exited.then((code) => reject(new Error(`gateway exited with ${code} before it was ready:\n${out}`)));
  });
  return { child, url, output: () => out, exited };
}

describe("shutting down on SIGTERM", () => {
  it("exits at once, cleanly, when nothing is connected", async () => {
    const gateway = await startMain();
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).toContain("shutting down");
    // The safety net (SHUTDOWN_TIMEOUT_MS) never had to fire: everything the gateway opened was closed.
    expect(gateway.output()).not.toContain("shutdown took longer");
  });

  it("closes live WebSockets with 1001 (going away), then exits cleanly", async () => {
    const gateway = await startMain();
    const socket = new WebSocket(`${gateway.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
    const messages: string[] = [];
    socket.on("message", (data: Buffer) => messages.push(data.toString()));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(
      JSON.stringify({
        type: "connection_init",
        payload: { authorization: `Bearer ${await signDevToken(TEST_JWT_SECRET, "leaver", 600)}` },
      }),
    );
    await new Promise<void>((resolve) => {
      const check = () => (messages.some((m) => m.includes("connection_ack")) ? resolve() : undefined);
      socket.on("message", check);
      check();
    });
    socket.send(
      JSON.stringify({
        id: "1",
        type: "subscribe",
        payload: { query: "subscription { budgetAlerts { at } }" },
      }),
    );
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    gateway.child.kill("SIGTERM");
    expect(await closed).toBe(1001);
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).not.toContain("shutdown took longer");
  });
});
