/** One file of an archive, as `TrainingJob.artifact.files` lists it. */
export interface TarFileEntry {
  name: string;
  sizeBytes: number;
}

export class TarFormatError extends Error {}

const BLOCK = 512;

/**
 * Lists the regular files of a tar archive (ustar, GNU and pax, as Python's `tarfile` and GNU tar write them)
 * from its bytes as they stream by, holding at most one header block and one pax/GNU long-name record in
 * memory: file contents are skipped, never buffered. Throws `TarFormatError` for bytes that are not a tar.
 */
export class TarIndexer {
  readonly files: TarFileEntry[] = [];
  private header = Buffer.alloc(0);
  /** Content bytes (padding included) still to skip, or to collect into `extension`. */
  private skip = 0;
  private extension?: { kind: "pax" | "gnu-name"; size: number; chunks: Buffer[]; have: number };
  private pendingName?: string;
  private ended = false;
  private seen = false;

  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - at);
        if (this.extension && this.extension.have < this.extension.size) {
          const wanted = Math.min(take, this.extension.size - this.extension.have);
          this.extension.chunks.push(chunk.subarray(at, at + wanted));
          this.extension.have += wanted;
        }
        this.skip -= take;
        at += take;
        if (this.skip === 0 && this.extension) this.closeExtension();
        continue;
      }
      const take = Math.min(BLOCK - this.header.length, chunk.length - at);
      this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
      at += take;
      if (this.header.length === BLOCK) {
        const block = this.header;
        this.header = Buffer.alloc(0);
        this.onHeader(block);
      }
    }
  }

  /** The list, once the whole archive went through `write`; throws when it stopped inside an entry. */
  finish(): TarFileEntry[] {
    if (this.skip > 0 || this.header.length > 0 || this.extension)
      throw new TarFormatError("the archive is cut short");
    if (!this.seen) throw new TarFormatError("not a tar archive: no header");
    return this.files;
  }

  private onHeader(block: Buffer): void {
    if (this.ended) return; // the zero blocks that end an archive, and any padding after them
    if (block.every((byte) => byte === 0)) {
      this.ended = true;
      return;
    }
    if (checksum(block) !== parseNumber(block, 148, 8))
      throw new TarFormatError("not a tar archive: bad header checksum");
    this.seen = true;
    const size = parseNumber(block, 124, 12);
    const type = String.fromCharCode(block[156] || 0x30);
    this.skip = Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "L") {
      this.extension = { kind: type === "x" ? "pax" : "gnu-name", size, chunks: [], have: 0 };
      if (size > 1024 * 1024) throw new TarFormatError("tar extended header over 1 MiB");
      if (this.skip === 0) this.closeExtension();
      return;
    }
    if (type === "g") return; // global pax header: nothing per file
    const name = this.pendingName ?? headerName(block);
    this.pendingName = undefined;
    // Archives made with `tar -C output .` name their files "./x": listed as "x".
    if (type === "0" || type === "7")
      this.files.push({ name: name.replace(/^(?:\.\/)+/, ""), sizeBytes: size });
  }

  private closeExtension(): void {
    const extension = this.extension!;
    this.extension = undefined;
    const text = Buffer.concat(extension.chunks).toString("utf8");
    if (extension.kind === "gnu-name") {
      this.pendingName = text.replace(/\0.*$/s, "");
      return;
    }
    // pax records: "<length> <key>=<value>\n"
    for (const record of text.split("\n")) {
      const match = /^\d+ path=(.*)$/s.exec(record);
      if (match) this.pendingName = match[1];
    }
  }
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function headerName(block: Buffer): string {
  const name = cString(block, 0, 100);
  const magic = block.subarray(257, 262).toString("latin1");
  const prefix = magic === "ustar" ? cString(block, 345, 155) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** An octal field, or GNU's base-256 form (high bit set) for sizes over 8 GiB. */
function parseNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] & 0x80) {
    let value = 0;
    for (let i = 1; i < length; i++) value = value * 256 + field[i];
    return value;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .trim();
  if (!/^[0-7]*$/.test(text)) throw new TarFormatError("not a tar archive");
  return text === "" ? 0 : parseInt(text, 8);
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum;
}
