import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { In, type DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { jobRun, enqueueWebhookEvent } from "../webhooks/webhook-outbox";
import { WebhookEvent } from "../webhooks/webhook.enums";
import { ArtifactRecord } from "./artifact.entity";
import { artifactErrors } from "./artifact.errors";
import type { ArtifactStore, ByteRange } from "./artifact-store";
import { STORE_PIECE_BYTES } from "./artifact-store";
import { DownloadSigner } from "./artifact-signing";
import { indexTar, TarFormatError, TarIndex, type TarFileEntry } from "./tar-index";

/** The `artifactUri` of a result stored at the gateway. */
export const gatewayArtifactUri = (jobId: string): string => `gateway://${jobId}`;

/** One chunk of an upload, as its `Content-Range` (and `X-Content-SHA256`) describe it. */
export interface UploadChunk {
  first: number;
  last: number;
  /** Null while the client does not know the total yet (`*`). */
  total: number | null;
  /** Required on the last chunk (`last + 1 === total`). */
  sha256?: string;
}

/** An upload refused with an HTTP status (400, 409, 413 or 422, answered as JSON). */
export class UploadError extends Error {
  constructor(
    readonly status: 400 | 409 | 413 | 422,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface UploadOutcome {
  received: number;
  complete: boolean;
}

export interface ArtifactOptions {
  maxBytes: number;
  publicUrl: string;
  /** Secret the download links are signed under (derived, never used as is). */
  signingSecret: Buffer;
  retentionDays: number;
}

/** What `TrainingJob.artifact` shows. */
export interface ArtifactView {
  jobId: string;
  uri: string;
  sizeBytes: number;
  sha256: string;
  files: { name: string; sizeBytes: number }[];
  createdAt: Date;
  downloadUrl: string;
}

/** The hash and file list of an upload, kept up to date as its pieces are stored in order by this process. */
interface RunningCheck {
  /** The offset the next stored piece must start at for the check to stay whole. */
  next: number;
  hash: Hash;
  index: TarIndex;
}

/** Uploads followed at once; past this the oldest is dropped (its last chunk then reads the upload back). */
const MAX_RUNNING_CHECKS = 256;

const CONTENT_RANGE = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/;

/** Parses `Content-Range: bytes <first>-<last>/<total|*>` and `X-Content-SHA256`; throws 400 naming the header. */
export function parseUploadChunk(
  contentRange: string | undefined,
  sha256: string | undefined,
  contentLength: string | undefined,
): UploadChunk {
  const match = CONTENT_RANGE.exec(contentRange?.trim() ?? "");
  if (!match) throw new UploadError(400, "Content-Range must be `bytes <first>-<last>/<total or *>`");
  const first = Number(match[1]);
  const last = Number(match[2]);
  const total = match[3] === "*" ? null : Number(match[3]);
  if (last < first) throw new UploadError(400, "Content-Range: last byte before first byte");
  if (total !== null && last >= total)
    throw new UploadError(400, "Content-Range: last byte beyond the total");
  if (contentLength !== undefined && Number(contentLength) !== last - first + 1) {
    throw new UploadError(400, "Content-Length differs from the length Content-Range gives");
  }
  const chunk: UploadChunk = { first, last, total };
  if (total !== null && last + 1 === total) {
    if (!sha256 || !/^[0-9a-fA-F]{64}$/.test(sha256.trim()))
      throw new UploadError(400, "X-Content-SHA256 (64 hex digits) is required on the last chunk");
    chunk.sha256 = sha256.trim().toLowerCase();
  }
  return chunk;
}

/**
 * Results uploaded by pods (`PUT /api/training/jobs/:jobId/artifact`) and their downloads. The
 * `artifacts` row is the truth: `received_bytes` moves forward piece by piece only after the piece is in the
 * store (so `HEAD` never claims bytes that a restart would lose), and `complete` turns true only after the
 * whole upload was read back from the store, hashed and found to be a tar: nothing half-uploaded is served.
 */
export class ArtifactService {
  private readonly signer: DownloadSigner;
  /**
   * The SHA-256 and tar listing of uploads in progress, fed with each piece once it is stored, so that the last
   * chunk need not read the whole upload back. Only a check that saw every byte from 0 in order is used; after a
   * restart, a resume on another replica or any gap, the last chunk reads the stored bytes back instead.
   */
  private readonly running = new Map<string, RunningCheck>();

  constructor(
    private readonly db: DataSource,
    readonly store: ArtifactStore,
    private readonly options: ArtifactOptions,
    private readonly logger: Logger,
  ) {
    this.signer = new DownloadSigner(options.signingSecret);
  }

  /** Bytes received so far for a job's upload (0 before the first chunk), for `HEAD`. */
  async progress(jobId: string): Promise<{ received: number; total: number | null; complete: boolean }> {
    const row = await this.row(jobId);
    return {
      received: row?.receivedBytes ?? 0,
      total: row?.sizeBytes ?? null,
      complete: row?.complete ?? false,
    };
  }

  /** Stores one chunk from `body`; completes the artifact when it was the last one. */
  async upload(
    job: { jobId: string; userId: string },
    chunk: UploadChunk,
    body: AsyncIterable<Buffer>,
  ): Promise<UploadOutcome> {
    const { maxBytes } = this.options;
    if ((chunk.total ?? 0) > maxBytes || chunk.last + 1 > maxBytes) {
      throw new UploadError(413, `the artifact is over ARTIFACT_MAX_BYTES (${maxBytes} bytes)`);
    }
    let row = await this.row(job.jobId);
    if (row?.complete) throw new UploadError(409, "the artifact is already complete");
    if (row && row.sizeBytes !== null && chunk.total !== null && row.sizeBytes !== chunk.total) {
      throw new UploadError(400, `Content-Range: the total was declared as ${row.sizeBytes} before`, {
        received: row.receivedBytes,
      });
    }
    if (row && row.sizeBytes !== null && chunk.last >= row.sizeBytes) {
      throw new UploadError(400, `Content-Range: beyond the declared total of ${row.sizeBytes} bytes`, {
        received: row.receivedBytes,
      });
    }
    const received = row?.receivedBytes ?? 0;
    // The last chunk again, after its bytes were all stored but the answer was lost: verify once more.
    if (row && chunk.sha256 && chunk.total === received) {
      for await (const _ of body) void _;
      return this.finish(row, chunk.sha256);
    }
    if (chunk.first !== received) {
      throw new UploadError(
        400,
        `the chunk starts at ${chunk.first}; the gateway has received ${received} bytes`,
        {
          received,
        },
      );
    }
    if (!row) row = await this.begin(job, chunk.total);
    else if (chunk.total !== null && row.sizeBytes === null) {
      await this.db.query(`UPDATE artifacts SET size_bytes = $2 WHERE job_id = $1`, [row.jobId, chunk.total]);
      row.sizeBytes = chunk.total;
    }

    const length = chunk.last - chunk.first + 1;
    let position = chunk.first;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const piece = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await this.store.write(row.ref, position, piece);
      const moved = await this.db.query<unknown[]>(
        `UPDATE artifacts SET received_bytes = $3, updated_at = now()
         WHERE job_id = $1 AND received_bytes = $2 AND NOT complete RETURNING job_id`,
        [row.jobId, position, position + piece.length],
      );
      if (rowsOf(moved) === 0) {
        this.dropCheck(row.jobId);
        throw new UploadError(409, "another upload of this artifact moved ahead");
      }
      await this.follow(row.jobId, position, piece);
      position += piece.length;
    };
    let seen = 0;
    try {
      for await (const data of body) {
        seen += data.length;
        if (seen > length) throw new UploadError(400, "the body is longer than Content-Range says");
        pending.push(data);
        pendingBytes += data.length;
        if (pendingBytes >= STORE_PIECE_BYTES) await flush();
      }
    } catch (error) {
      // A broken connection keeps what arrived whole: the client resumes from `HEAD`'s offset.
      if (!(error instanceof UploadError)) await flush().catch(() => undefined);
      throw error;
    }
    await flush();
    if (seen < length) {
      throw new UploadError(400, "the body is shorter than Content-Range says", { received: position });
    }
    if (chunk.sha256) return this.finish({ ...row, receivedBytes: position }, chunk.sha256);
    return { received: position, complete: false };
  }

  /** The complete artifact of one of `userId`'s jobs, or undefined (unknown, foreign and unfinished alike). */
  async view(userId: string, jobId: string): Promise<ArtifactView | undefined> {
    const row = await this.completeRow(jobId, userId);
    return row && this.toView(row);
  }

  /** For a download: the complete artifact of `jobId`, of `userId` when given (a signed link names no user). */
  async completeRow(jobId: string, userId?: string): Promise<ArtifactRecord | undefined> {
    const row = await this.row(jobId);
    if (!row?.complete || (userId !== undefined && row.userId !== userId)) return undefined;
    return row;
  }

  /** The jobs among `jobIds` whose result is stored here complete, its hash verified. */
  async completeJobIds(jobIds: readonly string[]): Promise<Set<string>> {
    const ids = jobIds.filter(isUuid).map((id) => id.toLowerCase());
    if (ids.length === 0) return new Set();
    const rows = await this.db
      .getRepository(ArtifactRecord)
      .find({ select: { jobId: true }, where: { jobId: In(ids), complete: true } });
    return new Set(rows.map((row) => row.jobId));
  }

  /** Whether the signed link's query answers for `jobId`. */
  checkLink(jobId: string, expires: string | null, signature: string | null) {
    return this.signer.verify(jobId, expires, signature);
  }

  /** A stream of the stored bytes of a complete artifact. */
  read(row: ArtifactRecord, range?: ByteRange): Readable {
    return this.store.read(row.ref, row.sizeBytes ?? 0, range);
  }

  /** deleteArtifact: removes one of the caller's stored results (complete or not). NOT_FOUND otherwise. */
  async delete(userId: string, jobId: string): Promise<boolean> {
    const row = await this.row(jobId);
    if (!row || row.userId !== userId) throw artifactErrors.notFound();
    await this.remove(row);
    return true;
  }

  /** The retention sweep: deletes results (and abandoned uploads) not touched for ARTIFACT_RETENTION_DAYS. */
  async sweep(now = new Date()): Promise<{ deleted: number }> {
    const cutoff = new Date(now.getTime() - this.options.retentionDays * 86_400_000);
    const rows = await this.db
      .getRepository(ArtifactRecord)
      .createQueryBuilder("a")
      .where("a.updated_at < :cutoff", { cutoff })
      .orderBy("a.updated_at")
      .limit(500)
      .getMany();
    for (const row of rows) await this.remove(row);
    return { deleted: rows.length };
  }

  private async remove(row: ArtifactRecord): Promise<void> {
    this.dropCheck(row.jobId);
    // The row goes first: once it is gone nothing serves the bytes, and a failed store delete only leaks them.
    await this.db.transaction(async (tx) => {
      await tx.query(`DELETE FROM artifacts WHERE job_id = $1`, [row.jobId]);
      await tx.query(`UPDATE training_jobs SET artifact_uri = NULL WHERE id = $1 AND artifact_uri = $2`, [
        row.jobId,
        gatewayArtifactUri(row.jobId),
      ]);
    });
    await this.store.delete(row.ref).catch((error: unknown) => {
      this.logger.warn({ jobId: row.jobId, err: (error as Error).message }, "artifact bytes not deleted");
    });
  }

  private async begin(job: { jobId: string; userId: string }, total: number | null): Promise<ArtifactRecord> {
    const ref = await this.store.begin(job.jobId);
    const inserted = await this.db.query<unknown[]>(
      `INSERT INTO artifacts (job_id, user_id, storage, ref, size_bytes) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (job_id) DO NOTHING RETURNING job_id`,
      [job.jobId, job.userId, this.store.kind, ref, total],
    );
    if (rowsOf(inserted) === 0) {
      await this.store.delete(ref);
      throw new UploadError(409, "another upload of this artifact started at the same time");
    }
    return (await this.row(job.jobId))!;
  }

  /** Reads the upload back, checks its hash and that it is a tar, and only then makes it the artifact. */
  private async finish(row: ArtifactRecord, sha256: string): Promise<UploadOutcome> {
    const size = row.receivedBytes;
    const check = this.running.get(row.jobId);
    this.running.delete(row.jobId);
    let actual: string;
    let files: TarFileEntry[];
    try {
      if (check && check.next === size) {
        actual = check.hash.digest("hex");
        files = await check.index.finish();
      } else {
        check?.index.abort();
        ({ actual, files } = await this.readBack(row.ref, size));
      }
    } catch (error) {
      if (!(error instanceof TarFormatError)) throw error;
      await this.remove(row);
      throw new UploadError(422, `the upload is not a tar archive (${error.message}); nothing was kept`);
    }
    if (actual !== sha256) {
      await this.remove(row);
      throw new UploadError(422, "X-Content-SHA256 does not match the uploaded bytes; nothing was kept");
    }
    const ref = await this.store.complete(row.ref, size);
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE artifacts SET complete = true, ref = $2, size_bytes = $3, sha256 = $4, files = $5::jsonb,
           updated_at = now() WHERE job_id = $1`,
        [row.jobId, ref, size, actual, JSON.stringify(files)],
      );
      await tx.query(`UPDATE training_jobs SET artifact_uri = $2, updated_at = now() WHERE id = $1`, [
        row.jobId,
        gatewayArtifactUri(row.jobId),
      ]);
      await enqueueWebhookEvent(tx, row.userId, WebhookEvent.ARTIFACT_READY, async () => ({
        deployment: await jobRun(tx, row.jobId),
        artifact: { jobId: row.jobId, sizeBytes: size, sha256: actual, files: files.length },
      }));
    });
    this.logger.info({ jobId: row.jobId, sizeBytes: size, files: files.length }, "artifact stored");
    return { received: size, complete: true };
  }

  /** Feeds a stored piece to the upload's running check, starting one at offset 0; a gap drops it. */
  private async follow(jobId: string, at: number, piece: Buffer): Promise<void> {
    let check = this.running.get(jobId);
    if (at === 0) {
      // A first piece (again, after a deleted or refused upload): whatever was followed before is void.
      this.dropCheck(jobId);
      check = { next: 0, hash: createHash("sha256"), index: new TarIndex() };
      this.running.set(jobId, check);
      if (this.running.size > MAX_RUNNING_CHECKS) {
        const oldest = this.running.keys().next().value;
        if (oldest !== undefined) this.dropCheck(oldest);
      }
    }
    if (!check) return;
    if (check.next !== at) return this.dropCheck(jobId);
    check.next += piece.length;
    check.hash.update(piece);
    await check.index.write(piece);
  }

  private dropCheck(jobId: string): void {
    this.running.get(jobId)?.index.abort();
    this.running.delete(jobId);
  }

  /** The SHA-256 and file list of the first `size` stored bytes, read back from the store in one pass. */
  private async readBack(ref: string, size: number): Promise<{ actual: string; files: TarFileEntry[] }> {
    const hash = createHash("sha256");
    const stored = this.store.read(ref, size) as AsyncIterable<Buffer>;
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const data of stored) {
        hash.update(data);
        yield data;
      }
    }
    const files = await indexTar(hashed());
    return { actual: hash.digest("hex"), files };
  }

  private toView(row: ArtifactRecord): ArtifactView {
    return {
      jobId: row.jobId,
      uri: gatewayArtifactUri(row.jobId),
      sizeBytes: row.sizeBytes ?? 0,
      sha256: row.sha256 ?? "",
      files: row.files ?? [],
      createdAt: row.createdAt,
      downloadUrl: `${this.options.publicUrl}/api/artifacts/${row.jobId}?${this.signer.sign(row.jobId)}`,
    };
  }

  private async row(jobId: string): Promise<ArtifactRecord | undefined> {
    if (!isUuid(jobId)) return undefined;
    return (
      (await this.db.getRepository(ArtifactRecord).findOneBy({ jobId: jobId.toLowerCase() })) ?? undefined
    );
  }
}

/** Rows a `... RETURNING` statement answered (TypeORM's pg driver gives `[rows, count]` for UPDATE). */
function rowsOf(result: unknown[]): number {
  if (Array.isArray(result[0])) return (result[0] as unknown[]).length;
  return result.length;
}
