/**
 * Start-up time of `npm start` in embedded mode (PGlite, in-process pub/sub): from spawn to the first 200 from
 * /healthz, with a NEW data dir (a fresh mkdtemp each run: first start, database created from the build-time
 * seed) and with an EXISTING one (initialised by an untimed start first). Median of `--runs` runs each, the
 * modes interleaved so that noise falls on all alike. Ceiling, same run: a bare `node -e` that requires only
 * node:http and listens.
 *
 *   node -r ./test/support/register-ts.js bench/startup.ts [--runs 5] [--profile]
 *
 * Needs dist/ (it runs `npm run build` when dist/src/server/main.js is missing, and warns when dist/ is older
 * than src/). `npm start` itself (npm's own start-up included) is what is judged; `node dist/src/server/main.js`,
 * what npm runs, is reported beside it. --profile adds one new-data-dir start under `--cpu-prof` and prints
 * where its time went.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { childEnv, REPO_ROOT, startChild, type ChildHandle } from "./lib/children";
import { onCleanup, runBench, sleep } from "./lib/lifecycle";
import { newestProfile, printProfile, summarizeProfile, type ProfileSummary } from "./lib/profile";
import { fmt, header, median, RESULTS_DIR, round, verdict, writeResult, type Verdict } from "./lib/report";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    profile: { type: "boolean", default: false },
  },
});
const RUNS = Number(args.runs);
const TARGET_MS = 3_000;
const MAIN = path.join(REPO_ROOT, "dist", "src", "server", "main.js");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/healthz", agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
  });
}

interface Mode {
  label: string;
  command: string;
  args: (port: number) => string[];
  dataDir: () => string | undefined;
  detached?: boolean;
}

interface Sample {
  ms: number;
  /** What the gateway itself logged as its start-up time (from process start), when it logs one. */
  selfReportedMs: number | null;
}

const tempRoot = mkdtempSync(path.join(os.tmpdir(), "traingate-bench-startup-"));
const newDataDir = () => mkdtempSync(path.join(tempRoot, "new-"));

/**
 * Spawns, polls /healthz every 10 ms until 200, then stops the process (SIGTERM, graceful) and waits for it.
 * `extraNodeArgs` go before the mode's arguments (node modes only).
 */
async function startOnce(mode: Mode, extraNodeArgs: string[] = []): Promise<Sample> {
  const port = await freePort();
  const dataDir = mode.dataDir();
  const env = childEnv({
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
  });
  const started = performance.now();
  const child: ChildHandle = startChild({
    label: mode.label,
    command: mode.command,
    args: [...extraNodeArgs, ...mode.args(port)],
    env,
    detached: mode.detached,
    cleanup: false,
  });
  try {
    let ms = 0;
    for (;;) {
      if (child.process.exitCode !== null) throw new Error(`${mode.label} exited early:\n${child.tail()}`);
      if (await healthy(port)) {
        ms = performance.now() - started;
        break;
      }
      if (performance.now() - started > 60_000)
        throw new Error(`${mode.label} not healthy in 60 s:\n${child.tail()}`);
      await sleep(10);
    }
    const self = /"startupMs":(\d+)/.exec(child.tail());
    return { ms, selfReportedMs: self ? Number(self[1]) : null };
  } finally {
    await child.stop(15_000);
  }
}

runBench("startup", async () => {
  header("startup", "`npm start` ready time in embedded mode (spawn to first 200 from /healthz)");
  onCleanup("remove temp data dirs", () => rmSync(tempRoot, { recursive: true, force: true }));
  if (!existsSync(MAIN)) {
    console.log("    dist/src/server/main.js is missing: npm run build");
    const build = spawnSync("npm", ["run", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
    if (build.status !== 0) throw new Error("npm run build failed");
  }
  const newestSource = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return Math.max(latest, newestSource(full));
      return entry.name.endsWith(".ts") ? Math.max(latest, statSync(full).mtimeMs) : latest;
    }, 0);
  const distAge = statSync(MAIN).mtimeMs;
  const stale = newestSource(path.join(REPO_ROOT, "src")) > distAge;
  if (stale)
    console.log("    note: dist/ is older than some file in src/; the figures are for the build in dist/");

  const existingDir = path.join(tempRoot, "existing");
  mkdirSync(existingDir);
  const modes: Mode[] = [
    {
      label: "bare node -e (ceiling)",
      command: process.execPath,
      args: (port) => [
        "-e",
        `require("node:http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1")`,
      ],
      dataDir: () => undefined,
    },
    {
      label: "npm start, new data dir",
      command: "npm",
      args: () => ["start"],
      dataDir: newDataDir,
      detached: true,
    },
    {
      label: "npm start, existing data dir",
      command: "npm",
      args: () => ["start"],
      dataDir: () => existingDir,
      detached: true,
    },
    {
      label: "node main.js, new data dir",
      command: process.execPath,
      args: () => [MAIN],
      dataDir: newDataDir,
    },
    {
      label: "node main.js, existing data dir",
      command: process.execPath,
      args: () => [MAIN],
      dataDir: () => existingDir,
    },
  ];
  // The existing data dir: created by one untimed start.
  await startOnce(modes[4]);

  const samples = new Map<string, Sample[]>(modes.map((m) => [m.label, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const mode of modes) {
      const sample = await startOnce(mode);
      samples.get(mode.label)!.push(sample);
    }
  }
  const rows = modes.map((mode) => {
    const list = samples.get(mode.label)!;
    const self = list.map((s) => s.selfReportedMs).filter((v): v is number => v !== null);
    return {
      label: mode.label,
      medianMs: round(median(list.map((s) => s.ms)), 0),
      runsMs: list.map((s) => round(s.ms, 0)),
      selfReportedMedianMs: self.length ? median(self) : null,
    };
  });
  console.log("");
  for (const row of rows)
    console.log(
      `    ${row.label.padEnd(32)} median ${fmt(row.medianMs).padStart(6)} ms  runs ${row.runsMs.join(", ")}` +
        (row.selfReportedMedianMs !== null
          ? `  (gateway's own startupMs median ${row.selfReportedMedianMs})`
          : ""),
    );
  const ceiling = rows[0];
  const verdicts: Verdict[] = rows
    .slice(1)
    .map((row) =>
      verdict(
        row.label,
        `median ${fmt(row.medianMs)} ms = ${fmt(row.medianMs / ceiling.medianMs, 1)}x the ceiling`,
        `bare node -e median ${fmt(ceiling.medianMs)} ms`,
        `< ${fmt(TARGET_MS)} ms`,
        row.medianMs < TARGET_MS,
      ),
    );

  let profile: ProfileSummary | undefined;
  if (args.profile) {
    const dir = path.join(RESULTS_DIR, "profiles", `startup-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    await startOnce(modes[3], ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    const file = newestProfile(dir);
    if (file) {
      profile = summarizeProfile(file, REPO_ROOT);
      printProfile(profile);
    }
  }
  writeResult("startup", { params: { runs: RUNS }, distOlderThanSrc: stale, rows, verdicts, profile });
});
