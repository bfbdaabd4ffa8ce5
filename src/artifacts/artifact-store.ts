import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { DataSource } from "typeorm";

/** Where an artifact's bytes live: files under `DATA_DIR/artifacts` (embedded) or PostgreSQL large objects. */
export type ArtifactStorageKind = "file" | "pg-large-object";

/** An inclusive byte range of a stored artifact. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The bytes of uploaded artifacts. The database row (`artifacts`) is the truth about how much was received
 * and whether the upload is complete; a store only keeps bytes at offsets. `ref` names an artifact's bytes in
 * the store (a file name, a large object's oid); it is made by `begin` and kept in the row.
 */
export interface ArtifactStore {
  readonly kind: ArtifactStorageKind;
  /** Makes room for a new upload; answers its ref. */
  begin(jobId: string): Promise<string>;
  /**
   * Writes `data` at `offset` (overwriting whatever a broken earlier attempt left there). Resolves once the
   * bytes are in the store; a read of them through `read` after `complete` answers them.
   */
  write(ref: string, offset: number, data: Buffer): Promise<void>;
  /** Makes the first `size` bytes the artifact, atomically; answers the ref to read it by from now on. */
  complete(ref: string, size: number): Promise<string>;
  /** A stream of the bytes of `range` (inclusive), of an artifact `size` bytes long. */
  read(ref: string, size: number, range?: ByteRange): Readable;
  /** Removes the bytes; a ref that is already gone is fine. */
  delete(ref: string): Promise<void>;
  /** How many bytes the store holds for `ref`, or undefined when it holds none. */
  stat(ref: string): Promise<{ size: number } | undefined>;
}

/** Bytes read or written in one go: large enough for throughput, small enough to never matter for memory. */
export const STORE_PIECE_BYTES = 1024 * 1024;

/**
 * Embedded mode: `<dir>/<jobId>.part` while an upload is under way, renamed to `<dir>/<jobId>.tar` (after an
 * fsync) when it completes, so a half-uploaded artifact never has the name that is served.
 */
export class FileArtifactStore implements ArtifactStore {
  readonly kind = "file" as const;

  constructor(private readonly dir: string) {}

  async begin(jobId: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const ref = `${jobId.toLowerCase()}.part`;
    await (await open(this.path(ref), "w")).close();
    return ref;
  }

  async write(ref: string, offset: number, data: Buffer): Promise<void> {
    const handle = await open(this.path(ref), "r+");
    try {
      await handle.write(data, 0, data.length, offset);
    } finally {
      await handle.close();
    }
  }

  async complete(ref: string, size: number): Promise<string> {
    const handle = await open(this.path(ref), "r+");
    try {
      await handle.truncate(size);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const done = ref.replace(/\.part$/, ".tar");
    await rename(this.path(ref), this.path(done));
    return done;
  }

  read(ref: string, size: number, range: ByteRange = { start: 0, end: size - 1 }): Readable {
    return createReadStream(this.path(ref), { start: range.start, end: range.end });
  }

  async delete(ref: string): Promise<void> {
    await rm(this.path(ref), { force: true });
  }

  async stat(ref: string): Promise<{ size: number } | undefined> {
    try {
      return { size: (await stat(this.path(ref))).size };
    } catch {
      return undefined;
    }
  }

  private path(ref: string): string {
    // Refs are made here from a UUID; anything else is refused rather than joined into a path.
    if (!/^[0-9a-f-]{36}\.(part|tar)$/.test(ref)) throw new Error("not an artifact file ref");
    return path.join(this.dir, ref);
  }
}

/**
 * Production: one PostgreSQL large object per artifact, written and read with the server-side `lo_put` and
 * `lo_get` in plain SQL (PostgreSQL >= 9.4), so every replica reads what any replica wrote. The artifact is
 * served only once its row says complete, which is what makes completion atomic here.
 */
export class LargeObjectArtifactStore implements ArtifactStore {
  readonly kind = "pg-large-object" as const;

  constructor(private readonly db: DataSource) {}

  async begin(): Promise<string> {
    const [row] = await this.db.query<{ oid: number | string }[]>(`SELECT lo_create(0) AS oid`);
    return String(row.oid);
  }

  async write(ref: string, offset: number, data: Buffer): Promise<void> {
    await this.db.query(`SELECT lo_put($1::oid, $2::bigint, $3::bytea)`, [oid(ref), offset, data]);
  }

  complete(ref: string): Promise<string> {
    return Promise.resolve(ref);
  }

  read(ref: string, size: number, range: ByteRange = { start: 0, end: size - 1 }): Readable {
    const db = this.db;
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let at = range.start; at <= range.end; at += STORE_PIECE_BYTES) {
        const length = Math.min(STORE_PIECE_BYTES, range.end - at + 1);
        const [row] = await db.query<{ data: Buffer | Uint8Array }[]>(
          `SELECT lo_get($1::oid, $2::bigint, $3::int) AS data`,
          [oid(ref), at, length],
        );
        const data = Buffer.from(row.data);
        if (data.length !== length) throw new Error("artifact large object is shorter than its row says");
        yield data;
      }
    }
    return Readable.from(pieces(), { objectMode: false });
  }

  async delete(ref: string): Promise<void> {
    await this.db.query(`SELECT lo_unlink(m.oid) FROM pg_largeobject_metadata m WHERE m.oid = $1::oid`, [
      oid(ref),
    ]);
  }

  async stat(ref: string): Promise<{ size: number } | undefined> {
    const [exists] = await this.db.query<{ n: number }[]>(
      `SELECT 1 AS n FROM pg_largeobject_metadata WHERE oid = $1::oid`,
      [oid(ref)],
    );
    if (!exists) return undefined;
    // Seeking to the end answers the length without reading the object (pg_largeobject itself is superuser-only).
    const [row] = await this.db.query<{ size: string | number }[]>(
      `SELECT lo_lseek64(lo_open($1::oid, 262144), 0, 2) AS size`,
      [oid(ref)],
    );
    return { size: Number(row.size) };
  }
}

function oid(ref: string): string {
  if (!/^\d{1,10}$/.test(ref)) throw new Error("not a large object ref");
  return ref;
}

/** The store of the gateway's mode. */
export function createArtifactStore(
  db: DataSource,
  mode: "embedded" | "production",
  dataDir: string,
): ArtifactStore {
  return mode === "production"
    ? new LargeObjectArtifactStore(db)
    : new FileArtifactStore(path.join(dataDir, "artifacts"));
}
