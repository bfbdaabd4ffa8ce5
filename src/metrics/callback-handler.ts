import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { bearerToken } from "../auth/jwt";
import { isDatabaseUnavailable } from "../db/unavailable";
import type { DeploymentService } from "../deployments/deployment.service";
import { JobStatus } from "../jobs/training-job.enums";
import { takeTokens, type BucketLimits, type BucketState } from "../limits/token-bucket";
import type { JobAccess, JobAccessCache } from "./job-access";
import { IngestBusyError, type MetricIngestService } from "./metric-ingest.service";
import { PayloadError, parseMetricsBody, parseStatusBody, type MetricPoint } from "./metric-payload";
import { sendJson } from "../http/send-json";

export interface CallbackOptions {
  /** Requests per second one job may make (per replica), sustained. */
  ratePerSecond?: number;
  /** Requests one job may make in a burst. */
  burst?: number;
  /** Told the outcome of every callback (for /metrics). */
  onAnswer?: (route: CallbackRoute, status: number) => void;
}

export type CallbackRoute = "metrics" | "status";

/** Judges a run's health from what its trainer sends (the training-health alerts). */
export interface HealthWatch {
  /** The points are committed. True when a health action asked the trainer to stop (the answer says so). */
  pointsStored(access: JobAccess, points: MetricPoint[]): Promise<boolean>;
  /** The trainer reported a failure, with its message. */
  trainerFailed(access: JobAccess, message: string | null): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;
const PATH = /^\/api\/training\/jobs\/([^/?#]+)\/(metrics|status)\/?(?:\?.*)?$/;

/**
 * The pod callbacks: `POST /api/training/jobs/:jobId/metrics` and `/status`, authorised by the job's own
 * token. They answer 200 (with the stop flag), 400 (the field at fault), 401, 409 (job finished), 413, 429 and
 * 503 (both with Retry-After); a 200 means the points are committed.
 *
 * Served straight from `node:http`, ahead of Express: a busy gateway takes thousands of these a second, and
 * Express's routing, body parsing and request scope cost more CPU than the work itself (bench/README.md).
 * `handle` answers false for any other request, which then goes to Express.
 */
export class CallbackHandler {
  private readonly limiter: PerJobRateLimiter;

  constructor(
    private readonly deps: {
      access: JobAccessCache;
      ingest: MetricIngestService;
      deployments: DeploymentService;
      health?: HealthWatch;
      logger: Logger;
    },
    private readonly options: CallbackOptions = {},
  ) {
    this.limiter = new PerJobRateLimiter(options.ratePerSecond ?? 20, options.burst ?? 40);
  }

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== "POST" || !req.url?.startsWith("/api/training/jobs/")) return false;
    const match = PATH.exec(req.url);
    if (!match) return false;
    const route = match[2] as CallbackRoute;
    if (this.options.onAnswer) {
      const onAnswer = this.options.onAnswer;
      res.once("finish", () => onAnswer(route, res.statusCode));
    }
    const jobId = decodePathSegment(match[1]);
    // A job id that does not even decode names no job: answered as an unknown job is.
    if (jobId === undefined) {
      req.resume();
      sendJson(res, 401, { error: "unauthorized" });
      return true;
    }
    this.serve(req, res, jobId, route).catch((error: unknown) => this.fail(res, route, error));
    return true;
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    jobId: string,
    route: CallbackRoute,
  ): Promise<void> {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      return sendJson(res, 413, { error: "body over 256 KiB" }, { connection: "close" });
    }
    const raw = await readBody(req);
    if (raw === undefined) return sendJson(res, 413, { error: "body over 256 KiB" }, { connection: "close" });

    const access = await this.deps.access.authorize(jobId, bearerToken(req.headers.authorization));
    if (!access) return sendJson(res, 401, { error: "unauthorized" });
    const retryAfter = this.limiter.take(access.jobId);
    if (retryAfter > 0)
      return sendJson(
        res,
        429,
        { error: "too many requests for this job" },
        { "retry-after": String(retryAfter) },
      );

    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      return sendJson(res, 400, { error: `malformed JSON: ${(error as Error).message}`, field: "body" });
    }

    if (route === "metrics") {
      if (access.finished) return sendJson(res, 409, { error: "job is finished" });
      let points;
      try {
        points = parseMetricsBody(body);
      } catch (error) {
        if (error instanceof PayloadError)
          return sendJson(res, 400, { error: error.message, field: error.field });
        throw error;
      }
      await this.deps.ingest.submit(access.jobId, points);
      if (access.jobStatus === JobStatus.PENDING) {
        // Points prove the trainer runs, even when its "running" report was lost.
        this.deps.access.invalidate(access.jobId);
        await this.deps.deployments.signal(access.deploymentId, { type: "JOB_REPORTED", status: "running" });
      }
      const healthStop = await this.judgeHealth(access, () => this.deps.health?.pointsStored(access, points));
      return sendJson(res, 200, { status: "ok", accepted: points.length, stop: access.stop || healthStop });
    }

    let report;
    try {
      report = parseStatusBody(body);
    } catch (error) {
      if (error instanceof PayloadError)
        return sendJson(res, 400, { error: error.message, field: error.field });
      throw error;
    }
    if (access.finished) return sendJson(res, 409, { error: "job is finished" });
    this.deps.access.invalidate(access.jobId);
    // A run (re)starting may redo steps from its checkpoint: they replace the stored ones and go out live again,
    // to subscribers on every replica (the marker is published before the trainer hears back).
    if (report.status === "running") await this.deps.ingest.restartSteps(access.jobId);
    const jobExtra: { artifactUri?: string; errorMessage?: string } = {};
    if (report.artifactUri) jobExtra.artifactUri = report.artifactUri;
    if (report.message && (report.status === "failed" || report.status === "stopped"))
      jobExtra.errorMessage = report.message;
    await this.deps.deployments.signal(
      access.deploymentId,
      { type: "JOB_REPORTED", status: report.status, ...(report.reason ? { reason: report.reason } : {}) },
      report.status === "failed" && report.message ? { errorMessage: report.message } : {},
      jobExtra,
    );
    await this.deps.deployments.recordEvent(access.deploymentId, "job.reported", {
      status: report.status,
      ...(report.reason ? { reason: report.reason } : {}),
      ...(report.artifactUri ? { artifactUri: report.artifactUri } : {}),
    });
    if (report.status === "failed")
      await this.judgeHealth(access, () => this.deps.health?.trainerFailed(access, report.message));
    const fresh = await this.deps.access.authorize(access.jobId, bearerToken(req.headers.authorization));
    return sendJson(res, 200, { status: "ok", stop: fresh?.stop ?? true });
  }

  /**
   * Runs a health judgement of what was just stored. Its failure is logged, not answered: the points or the report
   * are committed, and a retry would only send them again.
   */
  private async judgeHealth(
    access: JobAccess,
    judge: () => Promise<boolean | void> | undefined,
  ): Promise<boolean> {
    try {
      return (await judge()) === true;
    } catch (error) {
      this.deps.logger.warn(
        { deploymentId: access.deploymentId, err: error instanceof Error ? error.message : String(error) },
        "could not judge a run's health; judged again with its next points",
      );
      return false;
    }
  }

  private fail(res: ServerResponse, route: CallbackRoute, error: unknown): void {
    if (res.headersSent) return;
    if (error instanceof IngestBusyError) {
      sendJson(res, 503, { error: "busy: retry shortly" }, { "retry-after": "1" });
    } else if (isDatabaseUnavailable(error)) {
      this.deps.logger.warn(
        { err: (error as Error).message, route },
        "database unreachable for a pod callback",
      );
      sendJson(
        res,
        503,
        { error: "database unavailable: nothing was stored, retry" },
        { "retry-after": "5" },
      );
    } else {
      this.deps.logger.error({ err: error, route }, "pod callback failed");
      sendJson(res, 500, { error: "internal error: nothing was stored, retry" }, { "retry-after": "5" });
    }
  }
}

/** A percent-encoded path segment, or undefined when its escapes are malformed (`%ZZ`, a cut UTF-8 sequence). */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The body, or undefined once it passes the limit (the rest is discarded). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

/** A token bucket per job (the same arithmetic as the users' limit); answers the seconds to wait, 0 to go. */
class PerJobRateLimiter {
  private readonly buckets = new Map<string, BucketState>();
  private readonly limits: BucketLimits;

  constructor(ratePerSecond: number, burst: number) {
    this.limits = { ratePerSecond, burst };
  }

  take(jobId: string): number {
    const { state, waitMs } = takeTokens(this.buckets.get(jobId), Date.now(), this.limits);
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(jobId, state);
    return waitMs === 0 ? 0 : Math.max(1, Math.ceil(waitMs / 1000));
  }
}
