import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * The gateway's configuration. `loadConfig` is the only reader of `process.env` in the code base: every
 * variable is read and validated once, every bad one is reported in the same error, and the result is frozen.
 */
export interface Config {
  readonly mode: "embedded" | "production";
  readonly production: boolean;
  readonly nodeEnv: string;
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  /** `$PUBLIC_URL/api/training/jobs`: what pods are told to call back. */
  readonly metricsApiUrl: string;
  readonly databaseUrl?: string;
  readonly dataDir: string;
  readonly redisUrl?: string;
  readonly jwt: JwtConfig;
  /** Current key first; older keys after it, so rows written under them still decrypt. */
  readonly encryptionKeys: readonly EncryptionKey[];
  readonly runpodApiUrl: string;
  readonly runpodSimulator: boolean;
  /** Simulated seconds per real second when the built-in simulator runs (demo and tests). */
  readonly simulatorSpeed: number;
  /** The image pods run when a deployment names none. */
  readonly trainerImage: string;
  /**
   * Whether the upstream is a RunPod simulator (the built-in one, or `RUNPOD_API_SIMULATED=true` for one the
   * tests start): its pods run on this machine, so a loopback `PUBLIC_URL` reaches them.
   */
  readonly upstreamSimulated: boolean;
  /** Largest result a pod may upload to the gateway (`ARTIFACT_MAX_BYTES`). */
  readonly artifactMaxBytes: number;
  /** Uploaded results older than this many days are deleted (`ARTIFACT_RETENTION_DAYS`). */
  readonly artifactRetentionDays: number;
  /** `real`: the simulator's pods run the real trainer-scripts as local processes (`RUNPOD_SIMULATOR_TRAINER`). */
  readonly simulatorTrainer: "simulated" | "real";
  /**
   * The models this gateway's pods can train when they are the built-in simulator's local processes, which run
   * offline and load only the local models its Hub stand-in serves: set by `server/start.ts` once the simulator
   * has built them. Null (what `loadConfig` answers) for pods that load from the Hugging Face Hub, RunPod's or the
   * simulated trainer's, which cannot train a local model.
   */
  readonly localModels: readonly string[] | null;
  /** Seconds a created pod may take to report its container up before it is terminated and the run failed. */
  readonly podStartTimeoutSeconds: number;
  /** The Hugging Face Hub's base URL (`HF_ENDPOINT`, the Hub libraries' own variable), for model metadata. */
  readonly hubEndpoint: string;
  readonly logLevel: LogLevel;
  readonly playgroundEnabled: boolean;
  readonly watchdogIntervalMs: number;
  readonly syncIntervalMs: number;
  /** How long SIGTERM may take: sockets are drained and writes finished within it, else the process exits 1. */
  readonly shutdownTimeoutMs: number;
  /** GraphQL operations one user may make per second, sustained (all replicas together); 0: no limit. */
  readonly userRatePerSecond: number;
  /** GraphQL operations one user may make in a burst; 0: no limit. */
  readonly userRateBurst: number;
  /** Deployments in ACTIVE_DEPLOYMENT_STATUSES one user may have at once; 0: no limit. */
  readonly maxActiveDeploymentsPerUser: number;
  /** Deployments one user may create in any hour; 0: no limit. */
  readonly maxDeploysPerHour: number;
  /**
   * `PERSISTED_QUERIES`: `auto`, automatic persisted queries (the hash protocol; hashes shared through Redis
   * with `REDIS_URL`); `only`, a safelist: only documents registered with `npm run persisted:register` run;
   * `off`, no persisted queries (a hash-only request answers PersistedQueryNotSupported).
   */
  readonly persistedQueries: PersistedQueryMode;
  /** `WEBHOOK_ALLOW_PRIVATE`: webhooks may target loopback and private addresses (local use, tests). */
  readonly webhookAllowPrivate: boolean;
  /** Secrets that were generated into DATA_DIR by this start (embedded mode only), for the start-up log. */
  readonly generatedSecrets: readonly string[];
}

export type JwtConfig =
  | { readonly kind: "secret"; readonly secret: string; readonly issuer?: string; readonly audience?: string }
  | { readonly kind: "jwks"; readonly jwksUrl: string; readonly issuer?: string; readonly audience?: string };

export interface EncryptionKey {
  /** Short fingerprint stored beside every ciphertext so the right key is found after a rotation. */
  readonly version: string;
  readonly key: Buffer;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const PERSISTED_QUERY_MODES = ["auto", "only", "off"] as const;
export type PersistedQueryMode = (typeof PERSISTED_QUERY_MODES)[number];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The image pods run when neither the deployment nor `TRAINER_IMAGE` names one. */
export const DEFAULT_TRAINER_IMAGE = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2204";

/** Reads and validates the configuration. Throws one `ConfigError` listing every problem. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["true", "1", "yes"].includes(raw)) return true;
    if (["false", "0", "no"].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };
  const url = (name: string, fallback: string | undefined, protocols: string[]): string | undefined => {
    const raw = str(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must be a ${protocols.join(" or ")} URL (got "${redactUrl(raw)}")`);
      }
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return raw;
  };

  const nodeEnv = str("NODE_ENV") ?? "development";
  const production = nodeEnv === "production";
  const port = int("PORT", 4000, 0, 65535);
  const host = str("HOST") ?? "0.0.0.0";
  const publicUrl = (url("PUBLIC_URL", `http://localhost:${port}`, ["http:", "https:"]) ?? "").replace(
    /\/+$/,
    "",
  );
  const databaseUrl = url("DATABASE_URL", undefined, ["postgres:", "postgresql:"]);
  const redisUrl = url("REDIS_URL", undefined, ["redis:", "rediss:"]);
  const dataDir = path.resolve(str("DATA_DIR") ?? "./.data");
  const runpodSimulator = bool("RUNPOD_SIMULATOR", false);
  const simulatorSpeed = int("RUNPOD_SIMULATOR_SPEED", 5, 1, 100_000);
  // RunPod's official image naming: <image version>-cu<CUDA>-torch<torch>-<os>. CUDA 12.8 needs a 12.8 driver.
  const trainerImage = str("TRAINER_IMAGE") ?? DEFAULT_TRAINER_IMAGE;
  const upstreamSimulated = runpodSimulator || bool("RUNPOD_API_SIMULATED", false);
  const artifactMaxBytes = int("ARTIFACT_MAX_BYTES", 4 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER);
  const artifactRetentionDays = int("ARTIFACT_RETENTION_DAYS", 30, 1, 36_500);
  const simulatorTrainerRaw = (str("RUNPOD_SIMULATOR_TRAINER") ?? "simulated").toLowerCase();
  if (simulatorTrainerRaw !== "simulated" && simulatorTrainerRaw !== "real") {
    problems.push(`RUNPOD_SIMULATOR_TRAINER must be simulated or real (got "${simulatorTrainerRaw}")`);
  }
  const podStartTimeoutSeconds = int("POD_START_TIMEOUT_SECONDS", 900, 60, 86_400);
  const hubEndpoint = (url("HF_ENDPOINT", "https://huggingface.co", ["http:", "https:"]) ?? "").replace(
    /\/+$/,
    "",
  );
  const runpodApiUrl = url("RUNPOD_API_URL", "https://api.runpod.io/graphql", ["http:", "https:"]) ?? "";
  const logLevelRaw = (str("LOG_LEVEL") ?? "info").toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got "${logLevelRaw}")`);
  }
  const playgroundEnabled = bool("PLAYGROUND_ENABLED", true);
  const persistedQueriesRaw = (str("PERSISTED_QUERIES") ?? "auto").toLowerCase();
  if (!(PERSISTED_QUERY_MODES as readonly string[]).includes(persistedQueriesRaw)) {
    problems.push(
      `PERSISTED_QUERIES must be one of ${PERSISTED_QUERY_MODES.join(", ")} (got "${persistedQueriesRaw}")`,
    );
  }
  const webhookAllowPrivate = bool("WEBHOOK_ALLOW_PRIVATE", false);
  const watchdogIntervalMs = int("WATCHDOG_INTERVAL_MS", 15_000, 100, 3_600_000);
  const syncIntervalMs = int("SYNC_INTERVAL_MS", 30_000, 100, 3_600_000);
  const shutdownTimeoutMs = int("SHUTDOWN_TIMEOUT_MS", 10_000, 1_000, 600_000);
  // Per-user limits (README "Configuration"); 0 turns each off.
  const userRatePerSecond = int("USER_RATE_PER_SECOND", 20, 0, 1_000_000);
  const userRateBurst = int("USER_RATE_BURST", 100, 0, 1_000_000);
  const maxActiveDeploymentsPerUser = int("MAX_ACTIVE_DEPLOYMENTS_PER_USER", 10, 0, 100_000);
  const maxDeploysPerHour = int("MAX_DEPLOYS_PER_HOUR", 30, 0, 100_000);

  // Secrets: required in production, generated once into DATA_DIR otherwise.
  const generatedSecrets: string[] = [];
  const devSecret = (name: "JWT_SECRET" | "ENCRYPTION_KEY"): string | undefined => {
    if (production) {
      return undefined;
    }
    const file = path.join(dataDir, "secrets.json");
    const stored = readDevSecrets(file);
    if (stored[name]) return stored[name];
    const generated = randomBytes(32).toString(name === "JWT_SECRET" ? "base64url" : "base64");
    try {
      writeDevSecrets(file, { ...stored, [name]: generated });
      generatedSecrets.push(`${name} (stored in ${file})`);
      return generated;
    } catch (error) {
      problems.push(
        `${name} is not set and could not be generated into ${file}: ${(error as Error).message}`,
      );
      return undefined;
    }
  };

  const jwksUrl = url("JWKS_URL", undefined, ["https:", "http:"]);
  const issuer = str("JWT_ISSUER");
  const audience = str("JWT_AUDIENCE");
  let jwt: JwtConfig | undefined;
  const jwtSecret = str("JWT_SECRET");
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    problems.push("JWT_SECRET must be at least 32 characters long");
  } else if (jwtSecret !== undefined) {
    jwt = { kind: "secret", secret: jwtSecret, issuer, audience };
  } else if (jwksUrl !== undefined) {
    jwt = { kind: "jwks", jwksUrl, issuer, audience };
  } else if (production) {
    problems.push("JWT_SECRET or JWKS_URL is required when NODE_ENV=production");
  } else {
    const secret = devSecret("JWT_SECRET");
    if (secret) jwt = { kind: "secret", secret, issuer, audience };
  }

  const encryptionKeys: EncryptionKey[] = [];
  const currentKey = str("ENCRYPTION_KEY");
  if (currentKey !== undefined) {
    const key = parseKey(currentKey);
    if (key) encryptionKeys.push(key);
    else problems.push("ENCRYPTION_KEY must be 32 bytes, written as base64 (44 chars) or hex (64 chars)");
  } else if (production) {
    problems.push("ENCRYPTION_KEY is required when NODE_ENV=production");
  } else {
    const generated = devSecret("ENCRYPTION_KEY");
    const key = generated ? parseKey(generated) : undefined;
    if (key) encryptionKeys.push(key);
  }
  for (const [index, raw] of (str("ENCRYPTION_KEY_PREVIOUS") ?? "").split(",").entries()) {
    if (raw.trim() === "") continue;
    const key = parseKey(raw.trim());
    if (key) encryptionKeys.push(key);
    else problems.push(`ENCRYPTION_KEY_PREVIOUS entry ${index + 1} must be 32 bytes, as base64 or hex`);
  }

  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return Object.freeze({
    mode: databaseUrl ? "production" : "embedded",
    production,
    nodeEnv,
    port,
    host,
    publicUrl,
    metricsApiUrl: `${publicUrl}/api/training/jobs`,
    databaseUrl,
    dataDir,
    redisUrl,
    jwt: jwt!,
    encryptionKeys: Object.freeze(encryptionKeys),
    runpodApiUrl,
    runpodSimulator,
    simulatorSpeed,
    trainerImage,
    upstreamSimulated,
    artifactMaxBytes,
    artifactRetentionDays,
    simulatorTrainer: simulatorTrainerRaw === "real" ? "real" : "simulated",
    localModels: null,
    podStartTimeoutSeconds,
    hubEndpoint,
    logLevel: logLevelRaw as LogLevel,
    playgroundEnabled,
    watchdogIntervalMs,
    syncIntervalMs,
    shutdownTimeoutMs,
    userRatePerSecond,
    userRateBurst,
    maxActiveDeploymentsPerUser,
    maxDeploysPerHour,
    persistedQueries: persistedQueriesRaw as PersistedQueryMode,
    webhookAllowPrivate,
    generatedSecrets: Object.freeze(generatedSecrets),
  } satisfies Config);
}

/**
 * The environment `npm run demo` runs with: the process environment, plus the built-in simulator and a data
 * directory of its own unless they are set.
 */
export function demoEnvironment(env: Env = process.env): Env {
  // Short intervals: the simulated clock runs fast, and a demo should show changes as they happen.
  return {
    DATA_DIR: "./.data/demo",
    SYNC_INTERVAL_MS: "5000",
    WATCHDOG_INTERVAL_MS: "3000",
    ...env,
    RUNPOD_SIMULATOR: "true",
  };
}

/** A 32-byte key from base64 or hex, with its fingerprint as version. */
export function parseKey(raw: string): EncryptionKey | undefined {
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(raw)) key = Buffer.from(raw, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) key = Buffer.from(raw, "base64");
  if (!key || key.length !== 32) return undefined;
  return { version: createHash("sha256").update(key).digest("hex").slice(0, 12), key };
}

/** The configuration as it may be printed: secrets and passwords masked. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    mode: config.mode,
    nodeEnv: config.nodeEnv,
    port: config.port,
    host: config.host,
    publicUrl: config.publicUrl,
    databaseUrl: config.databaseUrl ? redactUrl(config.databaseUrl) : "embedded PGlite",
    dataDir: config.dataDir,
    redisUrl: config.redisUrl ? redactUrl(config.redisUrl) : "in-process pub/sub",
    jwt: config.jwt.kind === "secret" ? "HS256 secret (****)" : `JWKS ${config.jwt.jwksUrl}`,
    encryptionKeys: config.encryptionKeys.map((k) => `key ${k.version} (****)`),
    runpodApiUrl: config.runpodSimulator
      ? `built-in simulator (x${config.simulatorSpeed})`
      : config.runpodApiUrl,
    trainerImage: config.trainerImage,
    podStartTimeoutSeconds: config.podStartTimeoutSeconds,
    artifactMaxBytes: config.artifactMaxBytes,
    artifactRetentionDays: config.artifactRetentionDays,
    simulatorTrainer: config.simulatorTrainer,
    localModels: config.localModels,
    hubEndpoint: config.hubEndpoint,
    logLevel: config.logLevel,
    playgroundEnabled: config.playgroundEnabled,
    userRateLimit:
      config.userRatePerSecond > 0 && config.userRateBurst > 0
        ? `${config.userRatePerSecond}/s, burst ${config.userRateBurst}`
        : "off",
    maxActiveDeploymentsPerUser: config.maxActiveDeploymentsPerUser || "off",
    maxDeploysPerHour: config.maxDeploysPerHour || "off",
    persistedQueries: config.persistedQueries,
    webhookAllowPrivate: config.webhookAllowPrivate,
  };
}

export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = "****";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

function readDevSecrets(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
}

function writeDevSecrets(file: string, secrets: Record<string, string>): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
