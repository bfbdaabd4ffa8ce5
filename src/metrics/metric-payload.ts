import type { TrainerStopReason } from "../deployments/deployment.state";
import { METRIC_FIELDS, type MetricField, type MetricValues } from "./metric-fields";

/**
 * The pod callback payloads, parsed and validated. Pure: no I/O.
 */

/**
 * One point, as stored (camelCase, nulls for what the trainer did not send). `nonFinite`: the trainer sent NaN or
 * an infinity for its loss, eval_loss or grad_norm (stored as null).
 */
export type MetricPoint = { step: number; nonFinite: boolean } & MetricValues;

/**
 * The keys whose NaN or infinity a trainer sends as a string, since JSON has none: a diverged run is worth
 * knowing about, not refusing.
 */
const NON_FINITE_KEYS: ReadonlySet<string> = new Set(["loss", "eval_loss", "grad_norm"]);
const NON_FINITE_STRINGS: ReadonlySet<unknown> = new Set(["NaN", "Infinity", "-Infinity"]);

export const MAX_BATCH = 500;
const MAX_STEP = 2_147_483_647;

export class PayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "PayloadError";
  }
}

/**
 * A metrics body: one point, or `{ "metrics": [point, …] }` with at most 500. A batch with one bad point is
 * refused whole, naming the point's index. Unknown keys are ignored.
 */
export function parseMetricsBody(body: unknown): MetricPoint[] {
  if (!isObject(body)) throw new PayloadError("body", "must be a JSON object");
  if ("metrics" in body) {
    const list = body.metrics;
    if (!Array.isArray(list)) throw new PayloadError("metrics", "must be an array of points");
    if (list.length === 0) throw new PayloadError("metrics", "must hold at least one point");
    if (list.length > MAX_BATCH)
      throw new PayloadError("metrics", `holds ${list.length} points; at most ${MAX_BATCH} per request`);
    return list.map((point, index) => parsePoint(point, `metrics[${index}]`));
  }
  return [parsePoint(body, "body")];
}

export function parsePoint(raw: unknown, where: string): MetricPoint {
  if (!isObject(raw)) throw new PayloadError(where, "must be a JSON object");
  const step = raw.step;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0 || step > MAX_STEP) {
    throw new PayloadError(`${where}.step`, "is required and must be an integer >= 0");
  }
  const point = { step, nonFinite: false } as MetricPoint;
  for (const field of METRIC_FIELDS) {
    const value = raw[field.key];
    if (NON_FINITE_KEYS.has(field.key) && NON_FINITE_STRINGS.has(value)) {
      point[field.property] = null;
      point.nonFinite = true;
      continue;
    }
    point[field.property] = fieldValue(field, value, `${where}.${field.key}`);
  }
  return point;
}

export type JobReport = "running" | "completed" | "failed" | "stopped";
const REPORTS: readonly JobReport[] = ["running", "completed", "failed", "stopped"];

const TRAINER_STOP_REASONS: readonly TrainerStopReason[] = ["budget_deadline", "max_duration"];

/**
 * A status body: `{ "status": "running" | "completed" | "failed" | "stopped", "message"?, "artifact_uri"?,
 * "reason"? }`. `reason` says why a trainer stopped by itself (`budget_deadline`, `max_duration`); it counts only
 * with `stopped`, and any other value is ignored, so that a newer trainer's reasons never get a report refused.
 */
export function parseStatusBody(body: unknown): {
  status: JobReport;
  message: string | null;
  artifactUri: string | null;
  reason: TrainerStopReason | null;
} {
  if (!isObject(body)) throw new PayloadError("body", "must be a JSON object");
  const status = body.status;
  if (typeof status !== "string" || !(REPORTS as readonly string[]).includes(status)) {
    throw new PayloadError("status", `must be one of ${REPORTS.join(", ")}`);
  }
  const message = optionalString(body.message, "message", 100_000);
  const artifactUri = optionalString(body.artifact_uri, "artifact_uri", 2048);
  // No control characters (PostgreSQL text cannot hold a NUL) and no lone surrogate (jsonb refuses one).
  if (artifactUri !== null && !/^[a-z][a-z0-9+.-]*:\/\/[^\s\p{Cc}\p{Cs}]+$/iu.test(artifactUri)) {
    throw new PayloadError("artifact_uri", "must be a URI such as hf://owner/repo or pod://<podId>/<path>");
  }
  // Long messages are error tails; the last part is what explains the failure.
  const tail = message && message.length > 4000 ? `…${message.slice(-4000)}` : message;
  const reason =
    status === "stopped" && (TRAINER_STOP_REASONS as readonly unknown[]).includes(body.reason)
      ? (body.reason as TrainerStopReason)
      : null;
  return { status: status as JobReport, message: tail && storableText(tail), artifactUri, reason };
}

/** A UTF-16 surrogate without its pair (as a cut of a longer text can leave one). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Free text from a pod (an error tail may hold any bytes its process wrote) with what PostgreSQL cannot store
 * replaced by U+FFFD: a failure report is kept, not refused for one byte of its log.
 */
function storableText(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
}

/** One field of a point, checked as its kind says. */
function fieldValue(field: MetricField, raw: unknown, where: string): number | null {
  const value = optionalNumber(raw, where);
  if (value === null) return null;
  if (field.kind === "percent" && (value < 0 || value > 100)) {
    throw new PayloadError(where, "must be a percentage from 0 to 100");
  }
  if (field.kind === "seconds") {
    if (value < 0 || value > MAX_STEP) throw new PayloadError(where, "must be a number of seconds >= 0");
    return Math.round(value);
  }
  return value;
}

function optionalNumber(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new PayloadError(field, "must be a finite number or null");
  return value;
}

function optionalString(value: unknown, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new PayloadError(field, "must be a string or null");
  if (value.length > max) throw new PayloadError(field, `must be at most ${max} characters`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
