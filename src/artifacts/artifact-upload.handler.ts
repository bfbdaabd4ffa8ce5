import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { bearerToken } from "../auth/jwt";
import { isDatabaseUnavailable } from "../db/unavailable";
import type { JobAccessCache } from "../metrics/job-access";
import { parseUploadChunk, UploadError, type ArtifactService } from "./artifact.service";
import { sendJson } from "../http/send-json";

const PATH = /^\/api\/training\/jobs\/([^/?#]+)\/artifact\/?(?:\?.*)?$/;

/**
 * `PUT /api/training/jobs/:jobId/artifact` and `HEAD` on the same path: the pod's
 * result in chunks, authorised by the job token like the other callbacks. Served from `node:http` ahead of
 * Express, like `CallbackHandler`: the body streams into the store piece by piece and is never held whole.
 * `handle` answers false for any other request.
 */
export class ArtifactUploadHandler {
  constructor(
    private readonly deps: { access: JobAccessCache; artifacts: ArtifactService; logger: Logger },
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== "PUT" && req.method !== "HEAD") || !req.url?.startsWith("/api/training/jobs/")) {
      return false;
    }
    const match = PATH.exec(req.url);
    if (!match) return false;
    let jobId: string;
    try {
      jobId = decodeURIComponent(match[1]);
    } catch {
      req.resume();
      sendJson(res, 401, { error: "unauthorized" });
      return true;
    }
    this.serve(req, res, jobId).catch((error: unknown) => this.fail(req, res, error));
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, jobId: string): Promise<void> {
    const access = await this.deps.access.authorize(jobId, bearerToken(req.headers.authorization));
    if (!access) return refuse(req, res, 401, { error: "unauthorized" });
    if (req.method === "HEAD") {
      const progress = await this.deps.artifacts.progress(access.jobId);
      res.writeHead(200, {
        "upload-offset": String(progress.received),
        ...(progress.total !== null ? { "upload-length": String(progress.total) } : {}),
        "upload-complete": String(progress.complete),
        "cache-control": "no-store",
      });
      res.end();
      return;
    }
    let chunk;
    try {
      chunk = parseUploadChunk(
        header(req, "content-range"),
        header(req, "x-content-sha256"),
        header(req, "content-length"),
      );
    } catch (error) {
      if (error instanceof UploadError) return refuse(req, res, error.status, { error: error.message });
      throw error;
    }
    const outcome = await this.deps.artifacts.upload(
      { jobId: access.jobId, userId: access.userId },
      chunk,
      req,
    );
    sendJson(res, 200, { status: "ok", received: outcome.received, complete: outcome.complete });
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed || (req.destroyed && !req.complete)) {
      // The pod went away mid-chunk: what arrived whole is kept, and it resumes from HEAD's offset.
      if (!res.headersSent) res.destroy();
      return;
    }
    if (error instanceof UploadError) {
      refuse(req, res, error.status, { error: error.message, ...error.extra });
    } else if (isDatabaseUnavailable(error) || isStorageError(error)) {
      this.deps.logger.warn({ err: (error as Error).message }, "artifact storage unreachable for an upload");
      refuse(
        req,
        res,
        503,
        { error: "storage unavailable: retry from HEAD's offset" },
        { "retry-after": "5" },
      );
    } else {
      this.deps.logger.error({ err: error }, "artifact upload failed");
      refuse(req, res, 500, { error: "internal error: retry from HEAD's offset" }, { "retry-after": "5" });
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Errors of the file system under a file store (disk full, I/O error, permissions). */
function isStorageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return (
    typeof code === "string" &&
    /^(ENOSPC|EIO|EROFS|EACCES|EPERM|EDQUOT|EMFILE|ENFILE|ENOENT|ENOTDIR|EEXIST)$/.test(code)
  );
}

/** Bodies up to this size are read and dropped after a refusal, so the connection stays usable. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Answers a refusal. The rest of a small body is read and dropped (clients that send the whole body before
 * reading the answer then see it); a larger or unsized one closes the connection instead of being received.
 */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (req.readableEnded) return sendJson(res, status, body, headers);
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  const drain = Number.isFinite(declared) && declared <= DRAIN_LIMIT_BYTES;
  sendJson(res, status, body, drain ? headers : { ...headers, connection: "close" });
  req.resume();
}
