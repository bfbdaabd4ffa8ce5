import { mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, describeConfig, loadConfig, parseKey } from "./env";

const tmp = () => mkdtempSync(path.join(os.tmpdir(), "traingate-env-"));
const KEY_HEX = "ab".repeat(32);
const KEY_B64 = Buffer.alloc(32, 1).toString("base64");
const SECRET = "s".repeat(40);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ DATA_DIR: tmp(), ...env });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe("loadConfig", () => {
  it("serves embedded mode with defaults when nothing is set", () => {
    const config = loadConfig({ DATA_DIR: tmp() });
    expect(config).toMatchObject({
      mode: "embedded",
      port: 4000,
      host: "0.0.0.0",
      publicUrl: "http://localhost:4000",
      metricsApiUrl: "http://localhost:4000/api/training/jobs",
      runpodApiUrl: "https://api.runpod.io/graphql",
      runpodSimulator: false,
      upstreamSimulated: false,
      trainerImage: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2204",
      podStartTimeoutSeconds: 900,
      artifactMaxBytes: 4294967296,
      artifactRetentionDays: 30,
      simulatorTrainer: "simulated",
      hubEndpoint: "https://huggingface.co",
      logLevel: "info",
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("treats the upstream as simulated with the built-in simulator or RUNPOD_API_SIMULATED", () => {
    expect(loadConfig({ DATA_DIR: tmp(), RUNPOD_SIMULATOR: "true" }).upstreamSimulated).toBe(true);
    expect(loadConfig({ DATA_DIR: tmp(), RUNPOD_API_SIMULATED: "true" }).upstreamSimulated).toBe(true);
    expect(
      loadConfig({ DATA_DIR: tmp(), RUNPOD_API_URL: "http://127.0.0.1:9/graphql" }).upstreamSimulated,
    ).toBe(false);
  });

  it("derives the callback URL from PUBLIC_URL and PORT", () => {
    expect(loadConfig({ DATA_DIR: tmp(), PORT: "8080" }).publicUrl).toBe("http://localhost:8080");
    expect(loadConfig({ DATA_DIR: tmp(), PUBLIC_URL: "https://tg.example.com/" }).metricsApiUrl).toBe(
      "https://tg.example.com/api/training/jobs",
    );
  });

  it("reports every bad variable at once", () => {
    const problems = problemsOf({
      PORT: "http",
      PUBLIC_URL: "ftp://x",
      DATABASE_URL: "mysql://db",
      REDIS_URL: "not a url",
      RUNPOD_SIMULATOR: "maybe",
      LOG_LEVEL: "loud",
      ENCRYPTION_KEY: "short",
      JWT_SECRET: "short",
      POD_START_TIMEOUT_SECONDS: "soon",
      HF_ENDPOINT: "ftp://hub",
      ARTIFACT_MAX_BYTES: "4GB",
      ARTIFACT_RETENTION_DAYS: "0",
      RUNPOD_SIMULATOR_TRAINER: "gpu",
      PERSISTED_QUERIES: "safelist",
    });
    const named = [
      "PERSISTED_QUERIES",
      "ARTIFACT_MAX_BYTES",
      "ARTIFACT_RETENTION_DAYS",
      "RUNPOD_SIMULATOR_TRAINER",
      "POD_START_TIMEOUT_SECONDS",
      "HF_ENDPOINT",
      "PORT",
      "PUBLIC_URL",
      "DATABASE_URL",
      "REDIS_URL",
      "RUNPOD_SIMULATOR",
      "LOG_LEVEL",
      "ENCRYPTION_KEY",
      "JWT_SECRET",
    ];
    for (const name of named) expect(problems.some((p) => p.startsWith(name))).toBe(true);
    expect(problems).toHaveLength(named.length);
  });

  it("limits each user by default, and 0 turns each limit off", () => {
    expect(loadConfig({ DATA_DIR: tmp() })).toMatchObject({
      userRatePerSecond: 20,
      userRateBurst: 100,
      maxActiveDeploymentsPerUser: 10,
      maxDeploysPerHour: 30,
    });
    expect(
      loadConfig({
        DATA_DIR: tmp(),
        USER_RATE_PER_SECOND: "0",
        USER_RATE_BURST: "5",
        MAX_ACTIVE_DEPLOYMENTS_PER_USER: "0",
        MAX_DEPLOYS_PER_HOUR: "0",
      }),
    ).toMatchObject({
      userRatePerSecond: 0,
      userRateBurst: 5,
      maxActiveDeploymentsPerUser: 0,
      maxDeploysPerHour: 0,
    });
  });

  it("refuses limits that are not whole numbers of 0 or more", () => {
    const problems = problemsOf({
      USER_RATE_PER_SECOND: "2.5",
      USER_RATE_BURST: "-1",
      MAX_ACTIVE_DEPLOYMENTS_PER_USER: "ten",
      MAX_DEPLOYS_PER_HOUR: "1000001",
    });
    expect(problems).toEqual([
      'USER_RATE_PER_SECOND must be an integer from 0 to 1000000 (got "2.5")',
      'USER_RATE_BURST must be an integer from 0 to 1000000 (got "-1")',
      'MAX_ACTIVE_DEPLOYMENTS_PER_USER must be an integer from 0 to 100000 (got "ten")',
      'MAX_DEPLOYS_PER_HOUR must be an integer from 0 to 100000 (got "1000001")',
    ]);
  });

  it("runs automatic persisted queries by default, and takes only or off", () => {
    expect(loadConfig({ DATA_DIR: tmp() }).persistedQueries).toBe("auto");
    expect(loadConfig({ DATA_DIR: tmp(), PERSISTED_QUERIES: "only" }).persistedQueries).toBe("only");
    expect(loadConfig({ DATA_DIR: tmp(), PERSISTED_QUERIES: "OFF" }).persistedQueries).toBe("off");
    expect(problemsOf({ PERSISTED_QUERIES: "yes" })).toEqual([
      'PERSISTED_QUERIES must be one of auto, only, off (got "yes")',
    ]);
  });

  it("refuses to start in production without JWT_SECRET/JWKS_URL and ENCRYPTION_KEY", () => {
    const problems = problemsOf({ NODE_ENV: "production" });
    expect(problems).toEqual([
      "JWT_SECRET or JWKS_URL is required when NODE_ENV=production",
      "ENCRYPTION_KEY is required when NODE_ENV=production",
    ]);
    expect(
      problemsOf({
        NODE_ENV: "production",
        JWKS_URL: "https://idp.example.com/jwks",
        ENCRYPTION_KEY: KEY_HEX,
      }),
    ).toEqual([]);
  });

  it("generates dev secrets once into DATA_DIR and reuses them", () => {
    const dataDir = tmp();
    const first = loadConfig({ DATA_DIR: dataDir });
    expect(first.generatedSecrets).toHaveLength(2);
    const file = path.join(dataDir, "secrets.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(second.generatedSecrets).toEqual([]);
    expect(second.jwt).toEqual(first.jwt);
    expect(second.encryptionKeys[0].version).toBe(first.encryptionKeys[0].version);
    expect(JSON.parse(readFileSync(file, "utf8"))).toHaveProperty("JWT_SECRET");
  });

  it("keeps previous encryption keys after the current one", () => {
    const config = loadConfig({
      DATA_DIR: tmp(),
      ENCRYPTION_KEY: KEY_B64,
      ENCRYPTION_KEY_PREVIOUS: `${KEY_HEX}`,
    });
    expect(config.encryptionKeys.map((k) => k.version)).toEqual([
      parseKey(KEY_B64)!.version,
      parseKey(KEY_HEX)!.version,
    ]);
  });

  it("accepts 32-byte keys as hex or base64 only", () => {
    expect(parseKey(KEY_HEX)?.key).toHaveLength(32);
    expect(parseKey(KEY_B64)?.key).toHaveLength(32);
    expect(parseKey("ab".repeat(16))).toBeUndefined();
    expect(parseKey(Buffer.alloc(16).toString("base64"))).toBeUndefined();
  });

  it("masks secrets and passwords when described", () => {
    const config = loadConfig({
      DATA_DIR: tmp(),
      JWT_SECRET: SECRET,
      ENCRYPTION_KEY: KEY_HEX,
      DATABASE_URL: "postgres://app:hunter2hunter2@db:5432/tg",
      REDIS_URL: "redis://:redispass@cache:6379",
    });
    const printed = JSON.stringify(describeConfig(config));
    for (const secret of [SECRET, KEY_HEX, "hunter2hunter2", "redispass"])
      expect(printed).not.toContain(secret);
    expect(printed).toContain("db:5432");
  });
});
