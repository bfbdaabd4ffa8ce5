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
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
