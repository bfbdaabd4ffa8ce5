import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { Logger } from "pino";
import { bearerToken } from "../auth/jwt";
import type { DeploymentService } from "../deployments/deployment.service";
import { JobStatus } from "../jobs/training-job.enums";
import { IngestBusyError, type MetricIngestService } from "./metric-ingest.service";
import { PayloadError, parseMetricsBody, parseStatusBody } from "./metric-payload";
import type { JobAccess, JobAccessCache } from "./job-access";

export interface MetricsRouteOptions {
  /** Told the outcome of every callback (for /metrics). */
  onAnswer?: (route: "metrics" | "status", status: number) => void;
  /** Requests per second one job may make (per replica), sustained. */
  ratePerSecond?: number;
  /** Requests one job may make in a burst. */
  burst?: number;
}

/**
 * The pod callbacks (API.md "Pod callbacks (REST)"): `POST /api/training/jobs/:jobId/metrics` and `/status`,
 * authorised by the job's own token. Every status code of API.md's table is answered here; a 200 means the
 * points are committed.
 */
export function metricsRouter(deps: {
  access: JobAccessCache;
  ingest: MetricIngestService;
  deployments: DeploymentService;
  logger: Logger;
  options?: MetricsRouteOptions;
}): Router {
  const router = express.Router();
  const limiter = new PerJobRateLimiter(deps.options?.ratePerSecond ?? 20, deps.options?.burst ?? 40);

  const onAnswer = deps.options?.onAnswer;
  if (onAnswer) {
    router.use((req: Request, res: Response, next: NextFunction) => {
      const route = req.path.endsWith("/status") ? "status" : "metrics";
      res.on("finish", () => onAnswer(route, res.statusCode));
      next();
    });
  }
  router.use(express.json({ limit: "256kb", type: () => true }));

  /** The job behind the bearer token, or a 401 answered. */
  const authorize = async (req: Request, res: Response): Promise<JobAccess | undefined> => {
    const access = await deps.access.authorize(
      String(req.params.jobId),
      bearerToken(req.header("authorization")),
    );
    if (!access) {
      res.status(401).json({ error: "unauthorized" });
      return undefined;
    }
    const retryAfter = limiter.take(access.jobId);
    if (retryAfter > 0) {
      res.setHeader("Retry-After", String(retryAfter));
      res.status(429).json({ error: "too many requests for this job" });
      return undefined;
    }
    return access;
  };

  router.post("/:jobId/metrics", async (req: Request, res: Response) => {
    const access = await authorize(req, res);
    if (!access) return;
    if (access.finished) {
      res.status(409).json({ error: "job is finished" });
      return;
    }
    let points;
    try {
      points = parseMetricsBody(req.body);
    } catch (error) {
      if (error instanceof PayloadError) {
        res.status(400).json({ error: error.message, field: error.field });
        return;
      }
      throw error;
    }
    await deps.ingest.submit(access.jobId, points);
    if (access.jobStatus === JobStatus.PENDING) {
      // Points prove the trainer runs, even when its "running" report was lost.
      deps.access.invalidate(access.jobId);
      await deps.deployments.signal(access.deploymentId, { type: "JOB_REPORTED", status: "running" });
    }
    res.json({ status: "ok", accepted: points.length, stop: access.stop });
  });

  router.post("/:jobId/status", async (req: Request, res: Response) => {
    const access = await authorize(req, res);
    if (!access) return;
    let report;
    try {
      report = parseStatusBody(req.body);
    } catch (error) {
      if (error instanceof PayloadError) {
        res.status(400).json({ error: error.message, field: error.field });
        return;
      }
      throw error;
    }
    if (access.finished) {
      res.status(409).json({ error: "job is finished" });
      return;
    }
    deps.access.invalidate(access.jobId);
    const jobExtra: { artifactUri?: string; errorMessage?: string } = {};
    if (report.artifactUri) jobExtra.artifactUri = report.artifactUri;
    if (report.message && (report.status === "failed" || report.status === "stopped"))
      jobExtra.errorMessage = report.message;
    await deps.deployments.signal(
      access.deploymentId,
      { type: "JOB_REPORTED", status: report.status },
      report.status === "failed" && report.message ? { errorMessage: report.message } : {},
      jobExtra,
    );
    await deps.deployments.recordEvent(access.deploymentId, "job.reported", {
      status: report.status,
      ...(report.artifactUri ? { artifactUri: report.artifactUri } : {}),
    });
    const fresh = await deps.access.authorize(access.jobId, bearerToken(req.header("authorization")));
    res.json({ status: "ok", stop: fresh?.stop ?? true });
  });

  router.use(
    (error: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
      if (error.type === "entity.too.large") {
        res.status(413).json({ error: "body over 256 KiB" });
      } else if (error.type === "entity.parse.failed") {
        res.status(400).json({ error: `malformed JSON: ${error.message}`, field: "body" });
      } else if (error instanceof IngestBusyError) {
        res.setHeader("Retry-After", "1");
        res.status(503).json({ error: "busy: retry shortly" });
      } else if (isDatabaseUnavailable(error)) {
        deps.logger.warn({ err: error.message, path: req.path }, "database unreachable for a pod callback");
        res.setHeader("Retry-After", "5");
        res.status(503).json({ error: "database unavailable: nothing was stored, retry" });
      } else {
        deps.logger.error({ err: error, path: req.path }, "pod callback failed");
        res.setHeader("Retry-After", "5");
        res.status(500).json({ error: "internal error: nothing was stored, retry" });
      }
    },
  );
  return router;
}

/** Connection-level failures: the database is down or unreachable, not a bad query. */
function isDatabaseUnavailable(error: Error & { code?: string; driverError?: { code?: string } }): boolean {
  const code = error.driverError?.code ?? error.code ?? "";
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|57P0[1-3]|3D000|08\d\d\d)$/.test(code) ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|database has been closed|PGlite is closed|embedded database busy/i.test(
      error.message,
    )
  );
}

/** A token bucket per job; answers the seconds to wait, 0 when the request may go. */
class PerJobRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  take(jobId: string): number {
    const now = Date.now();
    const bucket = this.buckets.get(jobId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(jobId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }
}
