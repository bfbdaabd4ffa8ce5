/**
 * A minimal POSIX ustar writer: regular files only, names under 100 bytes. Enough to carry the trainer scripts
 * to a pod as one archive that any image's `tar` unpacks; no dependency for it.
 */
export interface TarEntry {
  name: string;
  content: Buffer;
  /** Octal permission bits, e.g. 0o755. */
  mode?: number;
}

const BLOCK = 512;

export function tar(entries: readonly TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (Buffer.byteLength(entry.name) >= 100 || !/^[\w./-]+$/.test(entry.name)) {
      throw new Error(`tar: unsupported file name ${JSON.stringify(entry.name)}`);
    }
    const header = Buffer.alloc(BLOCK);
    header.write(entry.name, 0, "utf8");
    writeOctal(header, 100, 8, entry.mode ?? 0o644);
    writeOctal(header, 108, 8, 0); // uid
    writeOctal(header, 116, 8, 0); // gid
    writeOctal(header, 124, 12, entry.content.length);
    writeOctal(header, 136, 12, mtime);
    header.fill(" ", 148, 156); // checksum is computed over spaces here
    header.write("0", 156); // regular file
    header.write("ustar\u000000", 257, "latin1");
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "latin1");
    parts.push(header, entry.content, Buffer.alloc((BLOCK - (entry.content.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function writeOctal(buffer: Buffer, offset: number, length: number, value: number): void {
  buffer.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "latin1");
}
