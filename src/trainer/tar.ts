import { Readable } from "node:stream";
import { pack } from "tar-stream";

/** One regular file of an archive made by `packTar`. */
export interface TarEntry {
  /** A relative path ("a.json", "nested/b.bin"); long names are written as pax headers. */
  name: string;
  content: Buffer;
  /** Octal permission bits, e.g. 0o755 (default 0o644). */
  mode?: number;
}

/**
 * A tar archive of `entries`, written by tar-stream as a stream (ustar headers, pax for what ustar cannot
 * hold), that GNU tar and Python's `tarfile` unpack. Every entry gets `mtime` (default the epoch), so the same
 * entries always make the same bytes. Absolute names and `..` segments are refused: nothing unpacks outside
 * its folder.
 */
export function packTar(entries: readonly TarEntry[], mtime = new Date(0)): Readable {
  for (const entry of entries) {
    if (!entry.name || entry.name.startsWith("/") || entry.name.split("/").includes("..")) {
      throw new Error(`tar: unsafe file name ${JSON.stringify(entry.name)}`);
    }
  }
  const archive = pack();
  for (const entry of entries) {
    archive.entry({ name: entry.name, mode: entry.mode ?? 0o644, mtime, type: "file" }, entry.content);
  }
  archive.finalize();
  return Readable.from(archive, { objectMode: false });
}

/** The whole archive of `entries` in memory: for small archives (a bundle of scripts, a test's result). */
export async function tarBuffer(entries: readonly TarEntry[], mtime?: Date): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of packTar(entries, mtime)) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
}
