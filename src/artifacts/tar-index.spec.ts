import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { tar } from "../trainer/tar";
import { TarFormatError, TarIndexer } from "./tar-index";

function index(archive: Buffer, chunkSize: number) {
  const indexer = new TarIndexer();
  for (let at = 0; at < archive.length; at += chunkSize) indexer.write(archive.subarray(at, at + chunkSize));
  return indexer.finish();
}

describe("TarIndexer", () => {
  const archive = tar([
    { name: "adapter_config.json", content: Buffer.from("{}") },
    { name: "adapter_model.safetensors", content: Buffer.alloc(1500, 1) },
    { name: "empty.txt", content: Buffer.alloc(0) },
  ]);

  it.each([1, 7, 512, 513, 4096, archive.length])("lists every file, fed %i bytes at a time", (chunk) => {
    expect(index(archive, chunk)).toEqual([
      { name: "adapter_config.json", sizeBytes: 2 },
      { name: "adapter_model.safetensors", sizeBytes: 1500 },
      { name: "empty.txt", sizeBytes: 0 },
    ]);
  });

  it("reads what Python's tarfile writes: directories skipped, pax long names, ustar prefixes", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tar-index-"));
    const long = `${"d".repeat(120)}/${"f".repeat(130)}.bin`;
    mkdirSync(path.join(dir, "output", "d".repeat(120)), { recursive: true });
    writeFileSync(path.join(dir, "output", long), Buffer.alloc(10, 2));
    writeFileSync(path.join(dir, "output", "a.json"), "{}");
    const script =
      "import sys,tarfile\nwith tarfile.open(sys.argv[1],'w',format=tarfile.PAX_FORMAT) as t:\n" +
      " t.add(sys.argv[2],arcname='.',recursive=True)";
    execFileSync("python3", ["-c", script, path.join(dir, "a.tar"), path.join(dir, "output")]);
    const files = index(readFileSync(path.join(dir, "a.tar")), 1000);
    expect(files.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: "a.json", sizeBytes: 2 },
      { name: long, sizeBytes: 10 },
    ]);
  });

  it.each([
    ["random bytes", Buffer.alloc(2048, 0x41)],
    ["nothing", Buffer.alloc(0)],
    ["a cut archive", archive.subarray(0, 700)],
  ])("refuses %s", (_what, bytes) => {
    expect(() => index(bytes, 100)).toThrow(TarFormatError);
  });
});
