import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import { bearerToken, type TokenVerifier } from "../auth/jwt";
import { isDatabaseUnavailable } from "../db/unavailable";
import type { ByteRange } from "./artifact-store";
import type { ArtifactService } from "./artifact.service";
import { sendJson } from "../http/send-json";

const PATH = /^\/api\/artifacts\/([^/?#]+)\/?(?:\?(.*))?$/;

/** A single `Range: bytes=…` over `size` bytes: the range, "unsatisfiable", or undefined (serve it all). */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Several ranges, or another unit: RFC 9110 lets a server ignore Range and send the whole representation.
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

/**
 * `GET /api/artifacts/:jobId` (and `HEAD`): streams a stored result to its owner (a user JWT) or to whoever
 * holds its signed `downloadUrl`. Unknown, foreign and unfinished artifacts, and links that are not genuine,
 * all answer the same 404.
 */
export class ArtifactDownloadHandler {
  constructor(
    private readonly deps: { artifacts: ArtifactService; verifyToken: TokenVerifier; logger: Logger },
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== "GET" && req.method !== "HEAD") || !req.url?.startsWith("/api/artifacts/"))
      return false;
    const match = PATH.exec(req.url);
    if (!match) return false;
    this.serve(req, res, match[1], new URLSearchParams(match[2] ?? "")).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (isDatabaseUnavailable(error)) {
        sendJson(res, 503, { error: "storage unavailable, retry" }, { "retry-after": "5" });
      } else {
        this.deps.logger.error({ err: error }, "artifact download failed");
        sendJson(res, 500, { error: "internal server error" });
      }
    });
    return true;
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    rawId: string,
    query: URLSearchParams,
  ): Promise<void> {
    const notFound = () => sendJson(res, 404, { error: "not found" });
    let jobId: string;
    try {
      jobId = decodeURIComponent(rawId);
    } catch {
      return notFound();
    }
    let userId: string | undefined;
    if (query.has("signature") || query.has("expires")) {
      const link = this.deps.artifacts.checkLink(jobId, query.get("expires"), query.get("signature"));
      if (link === "expired")
        return sendJson(res, 403, { error: "the download link has expired: ask for a new one" });
      if (link === "invalid") return notFound();
    } else {
      const token = bearerToken(req.headers.authorization);
      if (!token) {
        return sendJson(res, 401, {
          error: "a user token (Authorization: Bearer) or a signed link is required",
        });
      }
      try {
        userId = (await this.deps.verifyToken(token)).userId;
      } catch {
        return sendJson(res, 401, { error: "unauthorized" });
      }
    }
    const row = await this.deps.artifacts.completeRow(jobId, userId);
    if (!row) return notFound();
    const size = row.sizeBytes ?? 0;
    const etag = `"${row.sha256}"`;
    const common = {
      "content-type": "application/x-tar",
      etag,
      "accept-ranges": "bytes",
      "cache-control": "private, no-transform",
      "content-disposition": `attachment; filename="${row.jobId}.tar"`,
    };
    const ifRange = req.headers["if-range"];
    const range = ifRange && ifRange !== etag ? undefined : parseRange(req.headers.range, size);
    if (range === "unsatisfiable") {
      res.writeHead(416, { "content-range": `bytes */${size}` });
      res.end();
      return;
    }
    if (range) {
      res.writeHead(206, {
        ...common,
        "content-range": `bytes ${range.start}-${range.end}/${size}`,
        "content-length": String(range.end - range.start + 1),
      });
    } else {
      res.writeHead(200, { ...common, "content-length": String(size) });
    }
    if (req.method === "HEAD" || size === 0) {
      res.end();
      return;
    }
    await pipeline(this.deps.artifacts.read(row, range), res);
  }
}
