import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { DataSource } from "typeorm";
import { tarBuffer } from "../src/trainer/tar";
import { freshDatabase, usingPostgres, usingRedis } from "./support/database";
import { eventually } from "./support/eventually";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startSimulatedGateway } from "./support/simulated";
import { startTestGateway, type TestGateway } from "./support/gateway";

const MiB = 1024 * 1024;

let t: TestGateway;
let db: DataSource;
beforeAll(async () => {
  t = await startTestGateway();
  db = t.gateway.db.dataSource;
});
afterAll(() => t.close());

/** A tar like the pod's output/: a config and a weights file of `size` random bytes. */
function adapterTar(size: number): Promise<Buffer> {
  return tarBuffer([
    { name: "adapter_config.json", content: Buffer.from('{"r":16}') },
    { name: "adapter_model.safetensors", content: randomBytes(size) },
  ]);
}
const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function put(
  base: string,
  rows: Pick<DeploymentRows, "job" | "jobToken">,
  bytes: Buffer,
  first: number,
  total: number | "*",
  options: { sha256?: string; token?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.token ?? rows.jobToken}`,
    "content-type": "application/octet-stream",
    "content-range": `bytes ${first}-${first + bytes.length - 1}/${total}`,
  };
  if (options.sha256) headers["x-content-sha256"] = options.sha256;
  const res = await fetch(`${base}/api/training/jobs/${rows.job.id}/artifact`, {
    method: "PUT",
    headers,
    body: bytes,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

async function offset(base: string, rows: DeploymentRows, token = rows.jobToken): Promise<number> {
  const res = await fetch(`${base}/api/training/jobs/${rows.job.id}/artifact`, {
    method: "HEAD",
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return Number(res.headers.get("upload-offset"));
}

/** Uploads `bytes` from `from` in `chunk`-byte requests; the last carries the hash. */
async function upload(base: string, rows: DeploymentRows, bytes: Buffer, chunk = 2 * MiB, from = 0) {
  let last: Answer | undefined;
  for (let at = from; at < bytes.length; at += chunk) {
    const part = bytes.subarray(at, Math.min(at + chunk, bytes.length));
    const isLast = at + part.length === bytes.length;
    last = await put(base, rows, part, at, isLast ? bytes.length : "*", isLast ? { sha256: sha(bytes) } : {});
    expect(last.status).toBe(200);
  }
  return last!;
}

const ARTIFACT = `query($id: ID!) { trainingJob(id: $id) { artifactUri
  artifact { uri sizeBytes sha256 files { name sizeBytes } createdAt downloadUrl } } }`;
type ArtifactAnswer = {
  trainingJob: {
    artifactUri: string | null;
    artifact: {
      uri: string;
      sizeBytes: number;
      sha256: string;
      files: { name: string; sizeBytes: number }[];
      downloadUrl: string;
    } | null;
  } | null;
};

/** A link the gateway made, aimed at the test's own port (PUBLIC_URL names port 0 in tests). */
const at = (link: string, base: string) => {
  const url = new URL(link);
  return `${base}${url.pathname}${url.search}`;
};

async function download(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const storedRows = async (jobId: string) =>
  (await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM artifacts WHERE job_id = $1`, [jobId]))[0]
    .n;

describe("PUT /api/training/jobs/:jobId/artifact", () => {
  it("stores a chunked upload, lists its files, and serves it to its owner, whole and in ranges", async () => {
    const rows = await newDeployment(db, "art-owner");
    const bytes = await adapterTar(5 * MiB + 123);
    expect(await offset(t.url, rows)).toBe(0);
    const done = await upload(t.url, rows, bytes);
    expect(done.body).toEqual({ status: "ok", received: bytes.length, complete: true });

    const res = await t.gql<ArtifactAnswer>("art-owner", ARTIFACT, { id: rows.job.id });
    const job = res.data!.trainingJob!;
    expect(job.artifactUri).toBe(`gateway://${rows.job.id}`);
    expect(job.artifact).toMatchObject({
      uri: `gateway://${rows.job.id}`,
      sizeBytes: bytes.length,
      sha256: sha(bytes),
      files: [
        { name: "adapter_config.json", sizeBytes: 8 },
        { name: "adapter_model.safetensors", sizeBytes: 5 * MiB + 123 },
      ],
    });

    const url = `${t.url}/api/artifacts/${rows.job.id}`;
    const whole = await download(url, { authorization: `Bearer ${await t.token("art-owner")}` });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("application/x-tar");
    expect(whole.headers.get("content-length")).toBe(String(bytes.length));
    expect(whole.headers.get("etag")).toBe(`"${sha(bytes)}"`);
    expect(whole.bytes.equals(bytes)).toBe(true);

    const signed = await download(at(job.artifact!.downloadUrl, t.url));
    expect(signed.status).toBe(200);
    expect(sha(signed.bytes)).toBe(sha(bytes));

    const middle = await download(at(job.artifact!.downloadUrl, t.url), { range: "bytes=1000-1999999" });
    expect(middle.status).toBe(206);
    expect(middle.headers.get("content-range")).toBe(`bytes 1000-1999999/${bytes.length}`);
    expect(middle.bytes.equals(bytes.subarray(1000, 2_000_000))).toBe(true);
    const tail = await download(at(job.artifact!.downloadUrl, t.url), { range: "bytes=-100" });
    expect(tail.bytes.equals(bytes.subarray(bytes.length - 100))).toBe(true);
    expect(
      (await download(at(job.artifact!.downloadUrl, t.url), { range: `bytes=${bytes.length}-` })).status,
    ).toBe(416);

    // Once complete, more bytes are refused.
    expect((await put(t.url, rows, Buffer.alloc(10), 0, "*")).status).toBe(409);
    expect(t.logs.text).not.toContain(rows.jobToken);
    expect(t.logs.text).not.toContain(new URL(job.artifact!.downloadUrl).searchParams.get("signature")!);
  });

  it("resumes after a broken connection from HEAD's offset, and verifies the whole", async () => {
    const rows = await newDeployment(db, "art-broken");
    const bytes = await adapterTar(6 * MiB);
    // A request announcing 5 MiB that dies after about 3.
    await new Promise<void>((resolve) => {
      const req = request(`${t.url}/api/training/jobs/${rows.job.id}/artifact`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${rows.jobToken}`,
          "content-range": `bytes 0-${5 * MiB - 1}/*`,
          "content-length": String(5 * MiB),
        },
      });
      req.on("error", () => resolve());
      req.write(bytes.subarray(0, 3 * MiB + 17), () => {
        void eventually(async () => (await offset(t.url, rows)) >= 2 * MiB, "2 MiB stored").then(() => {
          req.destroy();
          resolve();
        });
      });
    });
    // Whatever arrived whole is kept; wait until the gateway has settled on it.
    let previous = -1;
    const received = await eventually(async () => {
      const now = await offset(t.url, rows);
      const settled = now === previous;
      previous = now;
      await new Promise((r) => setTimeout(r, 100));
      return settled ? now : undefined;
    }, "a settled offset");
    expect(received).toBeGreaterThanOrEqual(2 * MiB);
    expect(received).toBeLessThanOrEqual(3 * MiB + 17);

    // A chunk that does not start at the offset is refused and changes nothing.
    const wrong = await put(t.url, rows, bytes.subarray(0, 100), 0, "*");
    expect(wrong).toMatchObject({ status: 400, body: { received } });
    expect(await offset(t.url, rows)).toBe(received);

    expect((await upload(t.url, rows, bytes, 2 * MiB, received)).body).toMatchObject({ complete: true });
    const res = await t.gql<ArtifactAnswer>("art-broken", ARTIFACT, { id: rows.job.id });
    expect(res.data!.trainingJob!.artifact!.sha256).toBe(sha(bytes));
    const back = await download(at(res.data!.trainingJob!.artifact!.downloadUrl, t.url));
    expect(back.bytes.equals(bytes)).toBe(true);
  });

  it("keeps an upload across a connection broken mid-chunk and a gateway restart, and resumes it on the new process", async () => {
    const shared = await freshDatabase();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "traingate-art-"));
    const start = () => startTestGateway({ database: shared, env: { DATA_DIR: dataDir } });
    const bytes = await adapterTar(5 * MiB);
    let a: TestGateway | undefined = await start();
    let b: TestGateway | undefined;
    try {
      const rows = await newDeployment(a.gateway.db.dataSource, "art-restart");
      expect((await put(a.url, rows, bytes.subarray(0, 2 * MiB), 0, bytes.length)).status).toBe(200);
      // The next chunk dies half-way: the whole pieces that arrived are kept.
      const gateway = a;
      await new Promise<void>((resolve) => {
        const req = request(`${gateway.url}/api/training/jobs/${rows.job.id}/artifact`, {
          method: "PUT",
          headers: {
            authorization: `Bearer ${rows.jobToken}`,
            "content-range": `bytes ${2 * MiB}-${4 * MiB - 1}/${bytes.length}`,
            "content-length": String(2 * MiB),
          },
        });
        req.on("error", () => resolve());
        req.write(bytes.subarray(2 * MiB, 3 * MiB + 1000), () => {
          void eventually(async () => (await offset(gateway.url, rows)) >= 3 * MiB, "3 MiB stored").then(
            () => {
              req.destroy();
              resolve();
            },
          );
        });
      });
      const kept = await offset(a.url, rows);
      expect(kept).toBeGreaterThanOrEqual(3 * MiB);
      expect(kept).toBeLessThanOrEqual(3 * MiB + 1000);
      await a.close();
      a = undefined;

      // A new process over the same database and DATA_DIR: HEAD answers what the old one stored.
      b = await start();
      expect(await offset(b.url, rows)).toBe(kept);
      // The total declared before holds: a chunk past it, or another total, is refused and changes nothing.
      expect((await put(b.url, rows, Buffer.alloc(3 * MiB), kept, "*")).status).toBe(400);
      expect((await put(b.url, rows, Buffer.alloc(10), kept, 6 * MiB)).status).toBe(400);
      expect(await offset(b.url, rows)).toBe(kept);
      expect((await upload(b.url, rows, bytes, 2 * MiB, kept)).body).toMatchObject({ complete: true });
      const back = await download(`${b.url}/api/artifacts/${rows.job.id}`, {
        authorization: `Bearer ${await b.token("art-restart")}`,
      });
      expect(back.bytes.equals(bytes)).toBe(true);
      const view = await b.gql<ArtifactAnswer>("art-restart", ARTIFACT, { id: rows.job.id });
      expect(view.data!.trainingJob!.artifact!.sha256).toBe(sha(bytes));
    } finally {
      await a?.close();
      await b?.close();
      await shared.drop();
    }
  });

  it("stores nothing for a wrong hash, a non-tar, another job's token, or an unknown job", async () => {
    const rows = await newDeployment(db, "art-refused");
    const other = await newDeployment(db, "art-refused");
    const bytes = await adapterTar(100_000);
    const largeObjects = async () =>
      (await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_largeobject_metadata`))[0].n;
    const objectsBefore = await largeObjects();

    const wrongHash = await put(t.url, rows, bytes, 0, bytes.length, { sha256: "0".repeat(64) });
    expect(wrongHash.status).toBe(422);
    expect(await offset(t.url, rows)).toBe(0);
    expect(await storedRows(rows.job.id)).toBe(0);

    const garbage = randomBytes(4096);
    expect((await put(t.url, rows, garbage, 0, garbage.length, { sha256: sha(garbage) })).status).toBe(422);
    expect(await storedRows(rows.job.id)).toBe(0);

    expect(
      (await put(t.url, rows, bytes, 0, bytes.length, { sha256: sha(bytes), token: other.jobToken })).status,
    ).toBe(401);
    expect(
      (
        await put(
          t.url,
          { job: { ...rows.job, id: "00000000-0000-4000-8000-000000000000" }, jobToken: rows.jobToken },
          bytes,
          0,
          "*",
        )
      ).status,
    ).toBe(401);
    expect(await storedRows(rows.job.id)).toBe(0);

    expect((await put(t.url, rows, bytes, 0, bytes.length)).status).toBe(400); // the last chunk needs its hash
    const badRange = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/artifact`, {
      method: "PUT",
      headers: { authorization: `Bearer ${rows.jobToken}`, "content-range": "bytes 5-1/10" },
      body: "x",
    });
    expect(badRange.status).toBe(400);
    expect(await storedRows(rows.job.id)).toBe(0);
    expect(await largeObjects()).toBe(objectsBefore);
    if (!usingPostgres()) {
      const files = readdirSync(path.join(t.gateway.config.dataDir, "artifacts"));
      expect(files.filter((f) => f.startsWith(rows.job.id))).toEqual([]);
    }
  });

  // Only embedded mode has a file store to break; production keeps results in PostgreSQL large objects.
  const embeddedOnly = usingPostgres() ? undefined : it;
  embeddedOnly?.(
    "answers 503 with Retry-After and stores nothing while the artifact storage is unusable",
    async () => {
      const broken = await startTestGateway();
      try {
        // A file where the store's folder belongs: every write under it fails (ENOTDIR), as a lost disk would.
        writeFileSync(path.join(broken.gateway.config.dataDir, "artifacts"), "not a folder");
        const rows = await newDeployment(broken.gateway.db.dataSource, "art-broken-disk");
        const res = await put(broken.url, rows, Buffer.alloc(1000), 0, "*");
        expect(res.status).toBe(503);
        expect(res.headers.get("retry-after")).toBe("5");
        expect(await offset(broken.url, rows)).toBe(0);
        expect(broken.logs.text).not.toContain(rows.jobToken);
      } finally {
        await broken.close();
      }
    },
  );

  it("refuses an upload over ARTIFACT_MAX_BYTES before storing anything (declared or running size)", async () => {
    const small = await startTestGateway({ env: { ARTIFACT_MAX_BYTES: "100000" } });
    try {
      const sdb = small.gateway.db.dataSource;
      const rows = await newDeployment(sdb, "art-cap");
      const declared = await put(small.url, rows, Buffer.alloc(1000), 0, 200_000);
      expect(declared.status).toBe(413);
      const running = await put(small.url, rows, Buffer.alloc(150_000), 0, "*");
      expect(running.status).toBe(413);
      expect(await offset(small.url, rows)).toBe(0);
      expect((await sdb.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM artifacts`))[0].n).toBe(0);
      if (!usingPostgres())
        expect(existsSync(path.join(small.gateway.config.dataDir, "artifacts"))).toBe(false);
    } finally {
      await small.close();
    }
  });
});

describe("GET /api/artifacts/:jobId and deleteArtifact", () => {
  const DELETE = `mutation($jobId: ID!) { deleteArtifact(jobId: $jobId) }`;

  it("answers a foreign, an unknown and a forged request with the same 404", async () => {
    const rows = await newDeployment(db, "art-tenant");
    await upload(t.url, rows, await adapterTar(1000));
    const url = `${t.url}/api/artifacts/${rows.job.id}`;
    const foreign = await download(url, { authorization: `Bearer ${await t.token("art-intruder")}` });
    const unknown = await download(`${t.url}/api/artifacts/00000000-0000-4000-8000-000000000000`, {
      authorization: `Bearer ${await t.token("art-tenant")}`,
    });
    const forged = await download(`${url}?expires=9999999999&signature=AAAA`);
    for (const answer of [foreign, unknown, forged]) {
      expect(answer.status).toBe(404);
      expect(answer.bytes.toString()).toBe(unknown.bytes.toString());
    }
    expect((await download(url)).status).toBe(401);
    const view = await t.gql<ArtifactAnswer>("art-intruder", ARTIFACT, { id: rows.job.id });
    expect(view.data?.trainingJob ?? null).toBeNull();
  });

  it("deletes one of the caller's artifacts; another user's or an unknown one is NOT_FOUND", async () => {
    const rows = await newDeployment(db, "art-del");
    await upload(t.url, rows, await adapterTar(1000));
    const link = (await t.gql<ArtifactAnswer>("art-del", ARTIFACT, { id: rows.job.id })).data!.trainingJob!
      .artifact!.downloadUrl;
    const intruder = await t.gql("art-del-intruder", DELETE, { jobId: rows.job.id });
    expect(intruder.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await download(at(link, t.url))).status).toBe(200);

    expect((await t.gql("art-del", DELETE, { jobId: rows.job.id })).data).toEqual({ deleteArtifact: true });
    expect((await download(at(link, t.url))).status).toBe(404);
    const after = await t.gql<ArtifactAnswer>("art-del", ARTIFACT, { id: rows.job.id });
    expect(after.data!.trainingJob).toEqual({ artifactUri: null, artifact: null });
    expect((await t.gql("art-del", DELETE, { jobId: rows.job.id })).errors?.[0]?.extensions?.code).toBe(
      "NOT_FOUND",
    );
    // A new upload may take its place.
    expect((await upload(t.url, rows, await adapterTar(500))).body).toMatchObject({ complete: true });
  });

  it("sweeps artifacts older than ARTIFACT_RETENTION_DAYS", async () => {
    const old = await newDeployment(db, "art-retention");
    const fresh = await newDeployment(db, "art-retention");
    await upload(t.url, old, await adapterTar(1000));
    await upload(t.url, fresh, await adapterTar(1000));
    await db.query(`UPDATE artifacts SET updated_at = now() - interval '31 days' WHERE job_id = $1`, [
      old.job.id,
    ]);
    await t.gateway.services.artifacts.sweep();
    expect(await storedRows(old.job.id)).toBe(0);
    expect(await storedRows(fresh.job.id)).toBe(1);
  });
});

/** Runs the pod's uploader on `folder` (asynchronously: the gateway answering it runs in this very process). */
function runUploader(url: string, folder: string, work: string, token: string, extra: string[] = []) {
  return new Promise<{ status: number; stderr: string }>((resolve) => {
    execFile(
      "python3",
      [
        path.join(__dirname, "..", "trainer-scripts", "artifact_upload.py"),
        `--url=${url}`,
        `--folder=${folder}`,
        `--tar=${path.join(work, "output.tar")}`,
        `--uri=gateway://${url.split("/jobs/")[1].split("/")[0]}`,
        `--result-file=${path.join(work, "result")}`,
        "--chunk-bytes=65536",
        ...extra,
      ],
      { env: { PATH: process.env.PATH, JOB_TOKEN: token }, encoding: "utf8", timeout: 60_000 },
      (error, _stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

/** A TCP proxy to `target` that cuts its first connection once `cutAfter` request bytes went through. */
async function cuttingProxy(target: string, cutAfter: number) {
  const port = Number(new URL(target).port);
  const state = { cut: false };
  let sent = 0;
  const server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      socket.on("error", () => undefined);
      socket.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (data: Buffer) => {
      sent += data.length;
      if (!state.cut && sent > cutAfter) {
        state.cut = true;
        client.destroy();
        return;
      }
      upstream.write(data);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    wasCut: () => state.cut,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the pod's uploader (trainer-scripts/artifact_upload.py) against the real gateway", () => {
  it("packs a folder, uploads it in chunks, and the gateway verifies and lists it", async () => {
    const rows = await newDeployment(db, "art-pod");
    const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-pod-"));
    mkdirSync(path.join(dir, "output", "nested"), { recursive: true });
    const weights = randomBytes(300_000);
    writeFileSync(path.join(dir, "output", "adapter_model.safetensors"), weights);
    writeFileSync(path.join(dir, "output", "nested", "tokenizer.json"), "{}");
    const result = await runUploader(
      `${t.url}/api/training/jobs/${rows.job.id}/artifact`,
      path.join(dir, "output"),
      dir,
      rows.jobToken,
    );
    expect(result.status).toBe(0);
    expect(result.stderr).not.toContain(rows.jobToken);
    expect(readFileSync(path.join(dir, "result"), "utf8")).toBe(`gateway://${rows.job.id}`);
    const artifact = (await t.gql<ArtifactAnswer>("art-pod", ARTIFACT, { id: rows.job.id })).data!
      .trainingJob!.artifact!;
    expect(artifact.files).toEqual([
      { name: "adapter_model.safetensors", sizeBytes: 300_000 },
      { name: "nested/tokenizer.json", sizeBytes: 2 },
    ]);
    expect(artifact.sha256).toBe(sha(readFileSync(path.join(dir, "output.tar"))));
  });

  it("resumes from HEAD's offset after its connection is cut mid-upload, and the gateway verifies the whole", async () => {
    const rows = await newDeployment(db, "art-pod-cut");
    const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-pod-"));
    mkdirSync(path.join(dir, "output"));
    writeFileSync(path.join(dir, "output", "adapter_model.safetensors"), randomBytes(600_000));
    const proxy = await cuttingProxy(t.url, 250_000);
    try {
      const result = await runUploader(
        `${proxy.url}/api/training/jobs/${rows.job.id}/artifact`,
        path.join(dir, "output"),
        dir,
        rows.jobToken,
        ["--retry-base=0.05"],
      );
      expect(proxy.wasCut()).toBe(true);
      expect(result.stderr).not.toContain(rows.jobToken);
      expect(result.status).toBe(0);
    } finally {
      await proxy.close();
    }
    const artifact = (await t.gql<ArtifactAnswer>("art-pod-cut", ARTIFACT, { id: rows.job.id })).data!
      .trainingJob!.artifact!;
    const packed = readFileSync(path.join(dir, "output.tar"));
    expect(artifact.sha256).toBe(sha(packed));
    expect(artifact.sizeBytes).toBe(packed.length);
    expect((await download(at(artifact.downloadUrl, t.url))).bytes.equals(packed)).toBe(true);
  });
});

/**
 * A run with no output settings, on the simulator with its simulated trainer: whether it completes, is stopped at
 * its budget (by the gateway's watchdog, or by the trainer itself at its BUDGET_DEADLINE, whichever comes first),
 * stops at its own BUDGET_DEADLINE with no watchdog running, or is stopped by its user (the pod terminated: SIGTERM,
 * then a grace period), its result is uploaded to the gateway before the pod goes away, and it downloads by its
 * signed link. A budget stop is recorded as BUDGET_EXCEEDED either way. With PostgreSQL and Redis, a second
 * replica sharing the database and the bus serves the result that the first one received (and, for the user's
 * stop, is the one the user asks to stop).
 */
describe.each([
  ["completes", "COMPLETED", null],
  ["is stopped at its budget", "STOPPED", "BUDGET_EXCEEDED"],
  ["stops at its own budget deadline", "STOPPED", "BUDGET_EXCEEDED"],
  ["is stopped by its user", "STOPPED", "USER"],
] as const)("a simulated run that %s", (how, finalStatus, stopReason) => {
  const replicas = usingPostgres() && usingRedis();
  it(`ends ${finalStatus} with its result stored at the gateway${replicas ? ", served by the other replica" : ""}`, async () => {
    const shared = replicas ? await freshDatabase() : undefined;
    const budgetStop = stopReason === "BUDGET_EXCEEDED";
    // Without the watchdog nobody but the trainer stops the run: its own deadline does.
    const ownDeadline = how === "stops at its own budget deadline";
    const s = await startSimulatedGateway({
      database: shared,
      simulator: {
        speedFactor: 100,
        startupSeconds: 1,
        tickMs: 20,
        trainer: {
          fixedPace: true,
          stepsPerSecond: 20,
          // A run to stop must not finish first.
          stepsPerEpoch: finalStatus === "COMPLETED" ? 40 : 1_000_000,
          retryBaseMs: 5,
        },
      },
      background: !ownDeadline,
      env: { WATCHDOG_INTERVAL_MS: "200", SYNC_INTERVAL_MS: "300" },
    });
    const other = shared
      ? await startTestGateway({ database: shared, env: { RUNPOD_API_URL: s.sim.url } })
      : undefined;
    const user = `art-e2e-${how.replace(/\W+/g, "-")}`;
    try {
      await s.withRunpodKey(user);
      const configId = await s.newConfig(user);
      const deployed = await s.t.gql<{ deployTraining: { id: string; job: { id: string } } }>(
        user,
        `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id job { id } } }`,
        { input: { trainingConfigId: configId, budgetLimitUsd: budgetStop ? 0.05 : 5 } },
      );
      expect(deployed.errors).toBeUndefined();
      const { id: deploymentId, job } = deployed.data!.deployTraining;
      const jobId = job.id;
      const STATE = `query($id: ID!, $jobId: ID!) { deployment(id: $id) { status stopReason }
        trainingJob(id: $jobId) { artifactUri
          artifact { uri sizeBytes sha256 files { name sizeBytes } downloadUrl } } }`;
      type State = {
        deployment: { status: string; stopReason: string | null };
        trainingJob: NonNullable<ArtifactAnswer["trainingJob"]>;
      };
      const state = async (gateway: TestGateway) =>
        (await gateway.gql<State>(user, STATE, { id: deploymentId, jobId })).data!;

      // The replica that did not receive the upload answers for it.
      const reader = other ?? s.t;
      if (stopReason === "USER") {
        await eventually(
          () => Promise.resolve(s.sim.pods().some((p) => (p.trainer?.step ?? 0) >= 20)),
          "training to be under way",
        );
        const stopped = await reader.gql<{ stopDeployment: { status: string; stopReason: string } }>(
          user,
          `mutation($id: ID!) { stopDeployment(id: $id) { status stopReason } }`,
          { id: deploymentId },
        );
        expect(stopped.data?.stopDeployment).toEqual({ status: "STOPPED", stopReason: "USER" });
      }
      const final = await eventually(
        async () => {
          const now = await state(reader);
          return now.deployment.status === finalStatus && now.trainingJob.artifact ? now : undefined;
        },
        `the run to end ${finalStatus} with its artifact`,
        30_000,
      );
      // Stopped at the budget, the trainer ends either at the watchdog's flag or, a moment earlier, at its own
      // BUDGET_DEADLINE (95 % of the affordable time), which it reports as its reason: BUDGET_EXCEEDED either way.
      expect(final.deployment.stopReason).toBe(stopReason ?? "COMPLETED");
      expect(final.trainingJob.artifactUri).toBe(`gateway://${jobId}`);
      const artifact = final.trainingJob.artifact!;
      expect(artifact.files.map((f) => f.name)).toEqual(["adapter_config.json", "adapter_model.safetensors"]);
      const back = await download(at(artifact.downloadUrl, reader.url));
      expect(back.status).toBe(200);
      expect(back.bytes.length).toBe(artifact.sizeBytes);
      expect(sha(back.bytes)).toBe(artifact.sha256);
      if (other) {
        // The upload reached the first replica (the pods' PUBLIC_URL), never the second.
        expect(s.t.logs.text).toContain("artifact stored");
        expect(other.logs.text).not.toContain("artifact stored");
      }
      // Nothing is left running on the pod's side once the result is delivered.
      await eventually(
        () => Promise.resolve(s.sim.pods().every((p) => p.desiredStatus === "TERMINATED")),
        "the pod to be terminated",
      );
    } finally {
      await other?.close();
      await s.close();
      await shared?.drop();
    }
  }, 60_000);
});

describe("across replicas", () => {
  it(
    usingPostgres() && usingRedis()
      ? "serves from replica B what was uploaded to replica A"
      : "serves what was uploaded (embedded mode has one replica)",
    async () => {
      const shared = usingPostgres() ? await freshDatabase() : undefined;
      const a = shared ? await startTestGateway({ database: shared }) : t;
      const b = shared ? await startTestGateway({ database: shared }) : t;
      try {
        const rows = await newDeployment(a.gateway.db.dataSource, "art-replicas");
        const bytes = await adapterTar(3 * MiB);
        expect((await put(a.url, rows, bytes.subarray(0, 2 * MiB), 0, "*")).status).toBe(200);
        expect(await offset(b.url, rows)).toBe(2 * MiB);
        expect((await upload(b.url, rows, bytes, 2 * MiB, 2 * MiB)).body).toMatchObject({ complete: true });
        const link = (await b.gql<ArtifactAnswer>("art-replicas", ARTIFACT, { id: rows.job.id })).data!
          .trainingJob!.artifact!.downloadUrl;
        // A link made by B downloads from A.
        const back = await download(at(link, a.url));
        expect(back.bytes.equals(bytes)).toBe(true);
      } finally {
        if (shared) {
          await a.close();
          await b.close();
          await shared.drop();
        }
      }
    },
  );
});
