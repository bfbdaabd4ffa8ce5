import { extract } from "tar-stream";

/** One file of an archive, as `TrainingJob.artifact.files` lists it. */
export interface TarFileEntry {
  name: string;
  sizeBytes: number;
}

/** The bytes are not a (whole) tar archive. */
export class TarFormatError extends Error {}

/**
 * Lists the regular files of a tar archive (ustar, GNU and pax, as Python's `tarfile` and GNU tar write them)
 * from its bytes fed in order through `write`: tar-stream parses the headers, file contents are read through and
 * dropped, never buffered. `finish` answers the list, or throws `TarFormatError` for bytes that are not a tar or
 * stop inside an entry.
 */
export class TarIndex {
  private readonly files: TarFileEntry[] = [];
  private readonly parser = extract();
  private readonly settled: Promise<void>;
  private parseError: Error | undefined;
  private seen = 0;

  constructor() {
    this.parser.on("entry", (header, stream, next) => {
      if (header.type === "file" || header.type === "contiguous-file") {
        // Archives made with `tar -C output .` name their files "./x": listed as "x".
        this.files.push({ name: header.name.replace(/^(?:\.\/)+/, ""), sizeBytes: header.size });
      }
      stream.on("end", () => next());
      stream.resume();
    });
    this.settled = new Promise<void>((resolve) => {
      this.parser.on("finish", () => resolve());
      this.parser.on("close", () => resolve());
      this.parser.on("error", (error: Error) => {
        this.parseError = error;
        resolve();
      });
    });
  }

  /** Whether the bytes so far are already known not to be a tar (more bytes will not change that). */
  get failed(): boolean {
    return this.parseError !== undefined;
  }

  /** Feeds the next bytes; resolves once the parser can take more. */
  async write(chunk: Buffer): Promise<void> {
    if (this.parseError || chunk.length === 0) return;
    this.seen += chunk.length;
    if (!this.parser.write(chunk)) {
      await new Promise<void>((resolve) => {
        this.parser.once("drain", () => resolve());
        void this.settled.then(resolve);
      });
    }
  }

  /** The list, once every byte went through `write`. */
  async finish(): Promise<TarFileEntry[]> {
    if (!this.parseError) this.parser.end(undefined);
    await this.settled;
    if (this.parseError) throw new TarFormatError(`not a tar archive: ${this.parseError.message}`);
    if (this.seen === 0) throw new TarFormatError("not a tar archive: no bytes");
    return this.files;
  }

  /** Drops the parser (an index that will not be finished). */
  abort(): void {
    this.parser.destroy();
  }
}

/**
 * The files of the archive `source` streams (see `TarIndex`). An error of `source` itself (a storage failure) is
 * thrown as it is.
 */
export async function indexTar(source: AsyncIterable<Buffer>): Promise<TarFileEntry[]> {
  const index = new TarIndex();
  try {
    for await (const chunk of source) {
      await index.write(chunk);
      if (index.failed) break;
    }
  } catch (error) {
    index.abort();
    throw error;
  }
  return index.finish();
}
