import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { PGlite } from "@electric-sql/pglite";
import { signDevToken } from "../../src/auth/jwt";
import { loadConfig, type Config } from "../../src/config/env";
import { startGateway, type StartedGateway, type StartOptions } from "../../src/server/start";
import { createLogger } from "../../src/server/logger";
import { freshDatabase, type TestDatabaseTarget } from "./database";

export const TEST_JWT_SECRET = "test-secret-that-is-at-least-32-characters-long";
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");
/** A Hub endpoint nothing listens on (connection refused at once). */
export const CLOSED_HUB_ENDPOINT = "http://127.0.0.1:1";

/** Every line the gateway logged, as text, for assertions that secrets never reach a log. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

export interface TestGateway {
  gateway: StartedGateway;
  /** The embedded database, in PGlite runs. */
  pglite?: PGlite;
  url: string;
  logs: LogCapture;
  /** A valid token for `user`. */
  token(user: string): Promise<string>;
  /** POST /graphql as `user` (or anonymously with `null`). */
  gql<T = Record<string, unknown>>(
    user: string | null,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

/** The configuration of a test gateway: the real loader over a test environment. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "traingate-test-")),
    JWT_SECRET: TEST_JWT_SECRET,
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    REDIS_URL: process.env.REDIS_URL,
    LOG_LEVEL: "info",
    // Test upstreams are simulators on this machine, so pods reach a loopback PUBLIC_URL.
    RUNPOD_API_SIMULATED: "true",
    // Tests never reach the internet: a closed local port, so model sizes come from the model id.
    HF_ENDPOINT: CLOSED_HUB_ENDPOINT,
    // Suites make thousands of requests and many deploys as one user: the per-user limits stay on, out of reach
    // (test/rate-limits.spec.ts sets its own).
    USER_RATE_PER_SECOND: "100000",
    USER_RATE_BURST: "100000",
    MAX_ACTIVE_DEPLOYMENTS_PER_USER: "10000",
    MAX_DEPLOYS_PER_HOUR: "10000",
    ...env,
  });
}

/**
 * A real gateway on a random port over a fresh database (PostgreSQL when DATABASE_URL is set, else PGlite)
 * and the configured pub/sub (Redis when REDIS_URL is set, else in-process), with its log captured.
 */
export async function startTestGateway(
  options: {
    env?: Record<string, string | undefined>;
    database?: TestDatabaseTarget;
    gatewayOptions?: Omit<StartOptions, "config" | "logger" | "pglite">;
    port?: number;
    /** Embedded mode on the DATA_DIR given in `env` (a database another process wrote), not a fresh one. */
    useDataDir?: boolean;
  } = {},
): Promise<TestGateway> {
  // A database made here is this gateway's: closing the gateway drops it. One passed in stays the caller's.
  const owned = !options.database && !options.useDataDir ? await freshDatabase() : undefined;
  const target: Partial<TestDatabaseTarget> = options.database ?? owned ?? {};
  const config = testConfig({ DATABASE_URL: target.databaseUrl, ...options.env });
  const logs = new LogCapture();
  const logger = createLogger("debug", logs);
  let gateway: StartedGateway | undefined;
  let url: string;
  try {
    gateway = await startGateway({
      background: false,
      ...options.gatewayOptions,
      config,
      logger,
      pglite: target.pglite,
    });
    url = await gateway.listen(options.port ?? 0, "127.0.0.1");
  } catch (error) {
    // Nobody gets a handle to close on a failed start: close here what was opened, or jest cannot exit.
    await gateway?.close().catch(() => undefined);
    await owned?.drop().catch(() => undefined);
    throw error;
  }
  const token = (user: string) => signDevToken(TEST_JWT_SECRET, user, 3600);
  return {
    gateway,
    pglite: target.pglite,
    url,
    logs,
    token,
    async gql(user, query, variables) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (user !== null) headers.authorization = `Bearer ${await token(user)}`;
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers,
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse<never>, "status">;
      return { status: response.status, ...body };
    },
    async close() {
      await gateway.close();
      await owned?.drop();
    },
  };
}
