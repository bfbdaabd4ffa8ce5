import pino, { type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "../config/env";

export type { Logger };

/**
 * Keys whose values never reach a log line, wherever they appear in a logged object. Secrets are kept out of
 * log calls in the first place; this is the second line of defence.
 */
export const REDACTED_KEYS = [
  "authorization",
  "Authorization",
  "apiKey",
  "api_key",
  "token",
  "jobToken",
  "JOB_TOKEN",
  "HF_TOKEN",
  "RUNPOD_API_KEY",
  "password",
  "secret",
  "encryptionKey",
] as const;

const REDACT_PATHS = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `req.headers.${key}`]);

/** A structured JSON logger. Pass a destination to capture lines (tests do). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "traingate" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: { err: serializeError },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** Properties of a database error that carry values (a provider key's ciphertext may be one of them). */
const VALUE_KEYS = ["parameters", "detail"];

/**
 * Errors as pino logs them, less the values a failed statement was run with: TypeORM's QueryFailedError
 * carries its `parameters`, and PostgreSQL's `detail` quotes key values. The statement itself stays.
 */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const out = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const key of VALUE_KEYS) delete out[key];
  const driverError = out.driverError;
  if (driverError !== null && typeof driverError === "object") {
    out.driverError = Object.fromEntries(
      Object.entries(driverError).filter(([key]) => !VALUE_KEYS.includes(key)),
    );
  }
  return out;
}
