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
 * while its bytes stream by: tar-stream parses the headers, file contents are read through and dropped, never
 * buffered. Throws `TarFormatError` for bytes that are not a tar or stop inside an entry; an error of `source`
 * itself (a storage failure) is thrown as it is.
 */
export async function indexTar(source: AsyncIterable<Buffer>): Promise<TarFileEntry[]> {
  const files: TarFileEntry[] = [];
  const parser = extract();
  parser.on("entry", (header, stream, next) => {
    if (header.type === "file" || header.type === "contiguous-file") {
      // Archives made with `tar -C output .` name their files "./x": listed as "x".
      files.push({ name: header.name.replace(/^(?:\.\/)+/, ""), sizeBytes: header.size });
    }
    stream.on("end", () => next());
    stream.resume();
  });
  let parseError: Error | undefined;
  const parsed = new Promise<void>((resolve) => {
    parser.on("finish", () => resolve());
    parser.on("error", (error: Error) => {
      parseError = error;
      resolve();
    });
  });
  let seen = 0;
  try {
    for await (const chunk of source) {
      seen += chunk.length;
      if (parseError) break;
      if (!parser.write(chunk)) {
        await new Promise<void>((resolve) => {
          parser.once("drain", () => resolve());
          void parsed.then(resolve);
        });
      }
    }
  } catch (error) {
    parser.destroy();
    throw error;
  }
  if (!parseError) parser.end(undefined);
  await parsed;
  if (parseError) throw new TarFormatError(`not a tar archive: ${parseError.message}`);
  if (seen === 0) throw new TarFormatError("not a tar archive: no bytes");
  return files;
}
