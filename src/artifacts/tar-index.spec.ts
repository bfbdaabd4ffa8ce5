import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { tarBuffer } from "../trainer/tar";
import { indexTar, TarFormatError } from "./tar-index";

function pieces(archive: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < archive.length; at += size) chunks.push(archive.subarray(at, at + size));
  return Readable.from(chunks);
}

describe("indexTar", () => {
  let archive: Buffer;
  beforeAll(async () => {
    archive = await tarBuffer([
      { name: "adapter_config.json", content: Buffer.from("{}") },
      { name: "adapter_model.safetensors", content: Buffer.alloc(1500, 1) },
      { name: "empty.txt", content: Buffer.alloc(0) },
    ]);
  });

  it.each([1, 7, 512, 513, 4096, 1 << 20])("lists every file, fed %i bytes at a time", async (size) => {
    expect(await indexTar(pieces(archive, size))).toEqual([
      { name: "adapter_config.json", sizeBytes: 2 },
      { name: "adapter_model.safetensors", sizeBytes: 1500 },
      { name: "empty.txt", sizeBytes: 0 },
    ]);
  });

  it("reads what Python's tarfile writes: directories skipped, pax long names, ./ prefixes dropped", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tar-index-"));
    const long = `${"d".repeat(120)}/${"f".repeat(130)}.bin`;
    mkdirSync(path.join(dir, "output", "d".repeat(120)), { recursive: true });
    writeFileSync(path.join(dir, "output", long), Buffer.alloc(10, 2));
    writeFileSync(path.join(dir, "output", "a.json"), "{}");
    const script =
      "import sys,tarfile\nwith tarfile.open(sys.argv[1],'w',format=tarfile.PAX_FORMAT) as t:\n" +
      " t.add(sys.argv[2],arcname='.',recursive=True)";
    execFileSync("python3", ["-c", script, path.join(dir, "a.tar"), path.join(dir, "output")]);
    const files = await indexTar(pieces(readFileSync(path.join(dir, "a.tar")), 1000));
    expect(files.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: "a.json", sizeBytes: 2 },
      { name: long, sizeBytes: 10 },
    ]);
  });

  it.each([
    ["random bytes", () => Buffer.alloc(2048, 0x41)],
    ["nothing", () => Buffer.alloc(0)],
    ["a cut archive", () => archive.subarray(0, 700)],
  ])("refuses %s", async (_what, bytes) => {
    await expect(indexTar(pieces(bytes(), 100))).rejects.toThrow(TarFormatError);
  });

  it("passes a failure of the source through as it is", async () => {
    const failing = new Readable({
      read() {
        this.push(archive.subarray(0, 512));
        this.destroy(Object.assign(new Error("disk gone"), { code: "EIO" }));
      },
    });
    await expect(indexTar(failing)).rejects.toMatchObject({ code: "EIO" });
  });
});
