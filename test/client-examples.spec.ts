import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { newDeployment } from "./support/factories";
import { startDemoGateway } from "./support/demo-gateway";
import type { TestGateway } from "./support/gateway";

/**
 * The client examples (client-examples/) run as a user would run them, as child processes against a real
 * gateway with the built-in RunPod simulator: what they print is what is asserted.
 */

const ROOT = path.resolve(__dirname, "..");
const EXAMPLES = path.join(ROOT, "client-examples");
const USER = "demo";
const SIM_KEY = "sim_client_examples_0001";
const ESC = String.fromCharCode(27);

let t: TestGateway;
let token: string;
/** A one-epoch config: 40 steps, a point every 5, done in about a second at 50x. */
let quickConfigId: string;
const children = new Set<ChildProcess>();
/** Children that lead a process group of their own (`detached`): killed with their whole group. */
const groupLeaders = new WeakSet<ChildProcess>();
const scratch = mkdtempSync(path.join(os.tmpdir(), "traingate-client-examples-"));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end (or `timeoutMs`, then kills it). `onOutput` sees stdout as it grows, to act mid-run.
 * `detached` puts it in a process group of its own, which is killed whole (a shell pipeline, a pty and its child).
 */
function run(
  command: string,
  args: string[],
  options: {
    env?: Record<string, string>;
    timeoutMs?: number;
    onOutput?: (stdout: string, child: ChildProcess) => void;
    detached?: boolean;
  } = {},
): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the examples
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  children.add(child);
  if (options.detached) groupLeaders.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    options.onOutput?.(stdout, child);
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => kill(child), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    // A detached child leads its own group: take the whole pipeline down with it.
    if (groupLeaders.has(child)) process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

const example = (file: string, args: string[] = [], env: Record<string, string> = {}, timeoutMs?: number) =>
  run(process.execPath, ["--import", "tsx", path.join(EXAMPLES, file), ...args], {
    env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token, ...env },
    timeoutMs,
  });

async function newConfig(name: string, epochs: number): Promise<string> {
  const res = await t.gql<{ createTrainingConfig: { id: string } }>(
    USER,
    `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
    {
      input: {
        name,
        modelName: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        datasetUrl: "https://raw.githubusercontent.com/tatsu-lab/stanford_alpaca/main/alpaca_data.json",
        hyperparameters: { epochs, loggingSteps: 5 },
      },
    },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.createTrainingConfig.id;
}

/** The pod a job runs on. */
async function podOf(jobId: string): Promise<string> {
  const res = await t.gql<{ trainingJob: { deployment: { podId: string } } }>(
    USER,
    `query($id: ID!) { trainingJob(id: $id) { deployment { podId } } }`,
    { id: jobId },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.trainingJob.deployment.podId;
}

/** Resolves once `predicate` holds (checked every 20 ms); rejects after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${predicate.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The steps of the plain `step N | …` lines deploy-and-watch prints, in order. */
const printedSteps = (stdout: string): number[] =>
  [...stdout.matchAll(/^step (\d+) \| /gm)].map((match) => Number(match[1]));

beforeAll(async () => {
  // What npm run demo sets up: a simulated RunPod key and a saved training config.
  t = await startDemoGateway(USER, SIM_KEY);
  token = await t.token(USER);
  quickConfigId = await newConfig("TinyLlama chat LoRA (demo)", 1);
}, 60_000);

afterAll(async () => {
  for (const child of children) kill(child);
  await t?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("deploy-and-watch.ts", () => {
  test("deploys, prints the loss as it comes, and exits 0 once the run COMPLETED", async () => {
    const result = await example("deploy-and-watch.ts", ["--config", quickConfigId, "--budget", "1"]);

    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^deployed [0-9a-f-]{36}: TinyLlama chat LoRA \(demo\) .* on RTX_A4000 x1/m,
    );
    const steps = printedSteps(result.stdout);
    expect(steps).toEqual([5, 10, 15, 20, 25, 30, 35, 40]);
    expect(result.stdout).toMatch(/^step 40 \| epoch 1\.00 \| loss \d+\.\d{4} \| [▁▂▃▄▅▆▇█]+ \| 100\.0%/m);
    // Not a TTY: plain lines, the chart once at the end, and no cursor movement.
    expect(result.stdout).toContain("loss by step:");
    expect(result.stdout).toMatch(/^ +\d+\.\d{4} \|\*/m);
    expect(result.stdout).not.toContain(`${ESC}[`);
    expect(result.stdout).toMatch(
      /^COMPLETED: 40 steps, final loss \d+\.\d{4} \(best .*\); cost \$\d+\.\d{4} of the \$1\.0000 budget .*; adapter at gateway:\/\//m,
    );
  }, 40_000);

  test("picks the first saved config when --config is not given, and draws a live chart on a terminal", async () => {
    // python's pty module gives the example a real terminal, so that it takes its live (redrawn) path.
    const result = await run(
      "python3",
      [
        "-c",
        "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)",
        process.execPath,
        "--import",
        "tsx",
        path.join(EXAMPLES, "deploy-and-watch.ts"),
        "--budget",
        "1",
      ],
      { env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token }, detached: true },
    );

    expect(result.code).toBe(0);
    expect(result.stdout).toContain("TinyLlama chat LoRA (demo)"); // the first (and only) config
    expect(result.stdout).toMatch(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`)); // the block redrawn in place
    expect(result.stdout).toMatch(/TinyLlama chat LoRA \(demo\) \| COMPLETED \| RTX_A4000 x1/);
    expect(result.stdout).toMatch(/step 40 \| 100\.0% \| loss \d+\.\d{4}/);
    expect(result.stdout).toMatch(/COMPLETED: 40 steps, final loss/);
  }, 40_000);

  test("resubscribes after a dropped socket and resumes after the last step seen, with no gap and no repeat", async () => {
    const longer = await newConfig("six epochs", 6); // 240 steps: about 5 s at 50x
    const proxy = await startProxy(new URL(t.url).port);
    let dropped = false;
    try {
      const result = await run(
        process.execPath,
        ["--import", "tsx", path.join(EXAMPLES, "deploy-and-watch.ts"), "--config", longer, "--budget", "1"],
        {
          env: { TRAINGATE_URL: `http://127.0.0.1:${proxy.port}`, TRAINGATE_TOKEN: token },
          onOutput: (stdout) => {
            if (!dropped && printedSteps(stdout).length >= 3) {
              dropped = true;
              proxy.drop(); // every connection through the proxy, the WebSocket included, cut mid-run
            }
          },
        },
      );

      expect(dropped).toBe(true);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /^connection lost: socket closed \(\d+\); reconnecting in .*resuming after step \d+$/m,
      );
      expect(result.stdout).toMatch(/^reconnected; resuming after step \d+$/m);
      const steps = printedSteps(result.stdout);
      expect(steps).toEqual(Array.from({ length: 48 }, (_, i) => (i + 1) * 5));
      expect(result.stdout).toMatch(/^COMPLETED: 240 steps/m);
    } finally {
      await proxy.close();
    }
  }, 40_000);

  test("exits non-zero with the stopReason when the deployment is stopped", async () => {
    const long = await newConfig("fifty epochs", 50); // 2000 steps: stopped long before it ends
    let stopped: Promise<unknown> | undefined;
    const result = await run(
      process.execPath,
      ["--import", "tsx", path.join(EXAMPLES, "deploy-and-watch.ts"), "--config", long, "--budget", "1"],
      {
        env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token },
        onOutput: (stdout) => {
          const id = /^deployed ([0-9a-f-]{36})/m.exec(stdout)?.[1];
          if (!stopped && id && printedSteps(stdout).length > 0) {
            stopped = t.gql(USER, `mutation($id: ID!) { stopDeployment(id: $id) { status } }`, { id });
          }
        },
      },
    );
    await stopped;

    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error: deployment [0-9a-f-]{36} ended STOPPED \(stopReason USER\)/m);
    expect(result.stderr).toMatch(/^error: \d+ steps, final loss \d+\.\d{4} .*; cost \$/m);
  }, 40_000);

  test("exits non-zero with the trainer's error when the run FAILED", async () => {
    const long = await newConfig("fifty epochs, failing", 50);
    let failed: Promise<Response> | undefined;
    const result = await run(
      process.execPath,
      ["--import", "tsx", path.join(EXAMPLES, "deploy-and-watch.ts"), "--config", long, "--budget", "1"],
      {
        env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token },
        onOutput: (stdout) => {
          const jobId = /^deployed .* job ([0-9a-f-]{36})$/m.exec(stdout)?.[1];
          if (failed || !jobId || printedSteps(stdout).length === 0) return;
          // What train.py reports when it crashes, with the pod's own job token.
          failed = podOf(jobId).then((podId) =>
            fetch(`${t.url}/api/training/jobs/${jobId}/status`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${t.gateway.simulator?.pod(podId)?.env.JOB_TOKEN}`,
                "content-type": "application/json",
              },
              body: JSON.stringify({ status: "failed", message: "CUDA out of memory" }),
            }),
          );
        },
      },
    );
    expect((await failed)?.status).toBe(200);

    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /^error: deployment [0-9a-f-]{36} ended FAILED \(stopReason FAILED\): CUDA out of memory$/m,
    );
  }, 40_000);

  test("Ctrl-C only detaches: it exits 130 and the deployment keeps running", async () => {
    const long = await newConfig("fifty epochs, detached", 50);
    let id: string | undefined;
    const result = await run(
      process.execPath,
      ["--import", "tsx", path.join(EXAMPLES, "deploy-and-watch.ts"), "--config", long, "--budget", "1"],
      {
        env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token },
        onOutput: (stdout, child) => {
          id ??= /^deployed ([0-9a-f-]{36})/m.exec(stdout)?.[1];
          if (id && printedSteps(stdout).length > 0) child.kill("SIGINT");
        },
      },
    );

    expect(result.code).toBe(130);
    expect(result.stderr).toBe(
      `detached; deployment ${id} keeps running. Re-attach with --deployment ${id}\n`,
    );
    const after = await t.gql<{ deployment: { status: string } }>(
      USER,
      `query($id: ID!) { deployment(id: $id) { status } }`,
      {
        id,
      },
    );
    expect(after.data?.deployment.status).toBe("RUNNING");
    await t.gql(USER, `mutation($id: ID!) { stopDeployment(id: $id) { status } }`, { id });
  }, 40_000);

  test("prints the gateway's error code and exits 1 on errors, 2 on usage mistakes", async () => {
    const [notFound, badToken, noToken] = await Promise.all([
      example("deploy-and-watch.ts", ["--config", "00000000-0000-4000-8000-000000000000"]),
      example("deploy-and-watch.ts", [], { TRAINGATE_TOKEN: "not-a-jwt" }),
      example("deploy-and-watch.ts", [], { TRAINGATE_TOKEN: "" }),
    ]);

    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toBe("error: NOT_FOUND: training config not found\n");
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/^error: no token: set TRAINGATE_TOKEN/);
    expect(noToken.stderr).toContain("usage: npx tsx client-examples/deploy-and-watch.ts");
  }, 40_000);
});

describe("costs-report.ts", () => {
  test("prints the month's tables: by GPU type, by day, total, burn rate and projection", async () => {
    const result = await example("costs-report.ts");
    // deploy-and-watch's runs above spent money on RTX A4000s this month.
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^TrainGate costs \d{4}-\d{2}-01 \.\. \d{4}-\d{2}-\d{2} \(UTC\)$/m);
    expect(result.stdout).toContain("By GPU type");
    expect(result.stdout).toMatch(/^ {2}RTX_A4000 +\d+\.\d{2} +\$\d+\.\d{4}/m);
    expect(result.stdout).toContain("By day");
    expect(result.stdout).toMatch(/^Total spent: +\$\d+\.\d{4}$/m);
    expect(result.stdout).toMatch(/^Burn rate now: +\$\d+\.\d{4}\/h/m);
    expect(result.stdout).toMatch(/^Projected: +\$\d+\.\d{4}/m);
  }, 30_000);
});

describe("typed documents (graphql-codegen)", () => {
  test("client-examples/gql/ is what `npm run codegen` makes of the schema and the examples, and they type-check", async () => {
    // --check regenerates in memory and names each committed file that differs (a schema or document changed).
    const check = await run("npm", ["run", "-s", "codegen", "--", "--check"], { timeoutMs: 60_000 });
    expect(`${check.stdout}${check.stderr}`).not.toContain("stale files");
    expect(check.code).toBe(0);
    const tsc = await run(
      process.execPath,
      [require.resolve("typescript/bin/tsc"), "-p", "client-examples"],
      {
        timeoutMs: 120_000,
      },
    );
    expect(tsc.stdout).toBe("");
    expect(tsc.code).toBe(0);
  }, 180_000);
});

describe("python_client.py", () => {
  test("creates a training config (mutation) and lists the deployments with status and cost (query)", async () => {
    const result = await run(
      "python3",
      [path.join(EXAMPLES, "python_client.py"), "--url", t.url, "--token", token],
      { env: { PYTHONDONTWRITEBYTECODE: "1" } },
    );

    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const created = /^created training config ([0-9a-f-]{36}) \(python client example\)$/m.exec(
      result.stdout,
    );
    expect(created).not.toBeNull();
    expect(result.stdout).toContain('"method": "LORA"');
    const configs = await t.gql<{ trainingConfig: { name: string } | null }>(
      USER,
      `query($id: ID!) { trainingConfig(id: $id) { name } }`,
      { id: created?.[1] },
    );
    expect(configs.data?.trainingConfig?.name).toBe("python client example");

    const listed = await t.gql<{ deployments: { totalCount: number } }>(
      USER,
      `{ deployments { totalCount } }`,
    );
    expect(result.stdout).toContain(`${listed.data?.deployments.totalCount} deployment(s)`);
    expect(result.stdout).toMatch(/^ID +CONFIG +GPU +STATUS +STEP +LOSS +COST +BUDGET +USED +CREATED$/m);
    expect(result.stdout).toMatch(
      /^[0-9a-f-]{36} +TinyLlama chat LoRA \(demo\) +RTX_A4000 x1 +COMPLETED +40 +\d+\.\d{4} +\$\d+\.\d{4} +\$1\.0000 /m,
    );
    expect(result.stdout).toMatch(/^total spent: \$\d+\.\d{4}$/m);
  }, 30_000);

  test("deploys a config and stops the deployment (mutations), showing sub-cent cost", async () => {
    const config = await newConfig("python stop", 1);
    const python = (...args: string[]) =>
      run("python3", [path.join(EXAMPLES, "python_client.py"), "--url", t.url, "--token", token, ...args], {
        env: { PYTHONDONTWRITEBYTECODE: "1" },
      });
    const deployed = await python("deploy", "--config", config, "--budget", "0.5");
    expect(deployed.stderr).toBe("");
    const id = /^deployed ([0-9a-f-]{36}): /m.exec(deployed.stdout)?.[1];
    expect(id).toBeDefined();
    const stopped = await python("stop", "--deployment", id!);
    expect(stopped.stderr).toBe("");
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(new RegExp(`^stopped ${id}: STOPPED, cost \\$\\d+\\.\\d{4}$`, "m"));
    const row = await t.gql<{ deployment: { status: string } }>(
      USER,
      `query($id: ID!) { deployment(id: $id) { status } }`,
      {
        id,
      },
    );
    expect(row.data?.deployment.status).toBe("STOPPED");
  }, 30_000);

  test("prints extensions.code and exits 1 on an error", async () => {
    const result = await run("python3", [
      path.join(EXAMPLES, "python_client.py"),
      "--url",
      t.url,
      "--token",
      "not-a-jwt",
      "deployments",
    ]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: UNAUTHENTICATED: /);
  }, 30_000);
});

describe("load_adapter.py", () => {
  /**
   * The artifact is a real peft LoRA adapter of a tiny llama built offline (trainer-scripts/tests_real/fixtures.py),
   * uploaded by the pod's own uploader; the example runs with the pod venv's torch, transformers and peft.
   */
  const SCRIPTS = path.join(ROOT, "trainer-scripts");
  const OFFLINE = {
    HF_HUB_OFFLINE: "1",
    TRANSFORMERS_OFFLINE: "1",
    HF_DATASETS_OFFLINE: "1",
    OMP_NUM_THREADS: "1",
  };
  const MAKE_ADAPTER = [
    "import sys, torch",
    "from tests_real import fixtures",
    "from peft import LoraConfig, get_peft_model",
    "from transformers import AutoModelForCausalLM, AutoTokenizer",
    "base = fixtures.model_dir('llama')",
    "torch.manual_seed(0)",
    "lora = LoraConfig(r=4, lora_alpha=8, target_modules=['q_proj', 'v_proj'], init_lora_weights=False)",
    "model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), lora)",
    "model.save_pretrained(sys.argv[1])",
    "AutoTokenizer.from_pretrained(base).save_pretrained(sys.argv[1])",
  ].join("\n");
  let python: string;
  let jobId: string;
  let sha256: string;
  const work = path.join(scratch, "load-adapter");

  beforeAll(async () => {
    const venv = await run("bash", [path.join(SCRIPTS, "pod-venv.sh")], { timeoutMs: 600_000 });
    if (venv.code !== 0) throw new Error(`trainer-scripts/pod-venv.sh failed:\n${venv.stderr}`);
    python = venv.stdout.trim().split("\n").pop()!;
    const output = path.join(work, "output");
    const made = await run(python, ["-c", MAKE_ADAPTER, output], {
      env: { ...OFFLINE, PYTHONPATH: SCRIPTS },
      timeoutMs: 240_000,
    });
    if (made.code !== 0) throw new Error(`building the adapter failed:\n${made.stderr}`);

    const rows = await newDeployment(t.gateway.db.dataSource, USER);
    jobId = rows.job.id;
    const uploaded = await run(
      "python3",
      [
        path.join(SCRIPTS, "artifact_upload.py"),
        `--url=${t.url}/api/training/jobs/${jobId}/artifact`,
        `--folder=${output}`,
        `--tar=${path.join(work, "output.tar")}`,
        `--uri=gateway://${jobId}`,
        `--result-file=${path.join(work, "result")}`,
      ],
      { env: { JOB_TOKEN: rows.jobToken } },
    );
    if (uploaded.code !== 0) throw new Error(`the upload failed:\n${uploaded.stderr}`);
    sha256 = readFileSync(path.join(work, "output.tar.sha256"), "utf8").trim();
  }, 600_000);

  test("downloads the job's artifact by its signed link, verifies it, loads it with peft and generates", async () => {
    const dest = path.join(work, "home");
    const result = await run(
      python,
      [path.join(EXAMPLES, "load_adapter.py"), "--job", jobId, "--dest", dest],
      {
        env: { ...OFFLINE, TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token },
        timeoutMs: 240_000,
      },
    );

    expect(result.code).toBe(0);
    const files = readdirSync(path.join(work, "output")).length;
    expect(result.stdout).toMatch(
      new RegExp(`^artifact: gateway://${jobId}, \\d+ bytes, ${files} files$`, "m"),
    );
    expect(result.stdout).toContain(`sha256 verified: ${sha256}`);
    expect(result.stdout).toMatch(/^adapter loaded: 4 LoRA layers$/m);
    expect(result.stdout).toMatch(/^generated: The quick brown fox\S/m);
    expect(readFileSync(path.join(dest, "adapter", "adapter_config.json"), "utf8")).toBe(
      readFileSync(path.join(work, "output", "adapter_config.json"), "utf8"),
    );
    expect(`${result.stdout}${result.stderr}`).not.toContain(token);
    expect(`${result.stdout}${result.stderr}`).not.toContain("signature=");
  }, 240_000);

  test("keeps nothing when the bytes do not match the SHA-256 it was given, and exits 1", async () => {
    const link = (
      await t.gql<{ trainingJob: { artifact: { downloadUrl: string } } }>(
        USER,
        `query($id: ID!) { trainingJob(id: $id) { artifact { downloadUrl } } }`,
        { id: jobId },
      )
    ).data!.trainingJob.artifact.downloadUrl;
    const dest = path.join(work, "tampered");
    const wrong = `${sha256.slice(0, 63)}${sha256.endsWith("0") ? "1" : "0"}`;
    const result = await run(
      "python3",
      [path.join(EXAMPLES, "load_adapter.py"), "--download-url", link, "--sha256", wrong, "--dest", dest],
      { env: OFFLINE },
    );

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`SHA-256 mismatch: expected ${wrong}, got ${sha256}; nothing kept`);
    expect(readdirSync(dest)).toEqual([]);
  }, 60_000);

  test("tells a job with no stored result from an unknown one", async () => {
    const pending = await newDeployment(t.gateway.db.dataSource, USER);
    const none = await run("python3", [path.join(EXAMPLES, "load_adapter.py"), "--job", pending.job.id], {
      env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token },
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/has no result stored at the gateway/);
    const unknown = await run(
      "python3",
      [path.join(EXAMPLES, "load_adapter.py"), "--job", "00000000-0000-4000-8000-000000000000"],
      { env: { TRAINGATE_URL: t.url, TRAINGATE_TOKEN: token } },
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
  }, 60_000);
});

describe("curl.md", () => {
  /** The `sh` blocks under each `###` heading, by the heading's first `code` span (or its text). */
  const blocks = new Map<string, string[]>();
  let heading = "";
  for (const match of readFileSync(path.join(EXAMPLES, "curl.md"), "utf8").matchAll(
    /^### (.*)$|^```sh\n([\s\S]*?)^```$/gm,
  )) {
    if (match[1] !== undefined) {
      heading = /`([^`]+)`/.exec(match[1])?.[1] ?? match[1];
      blocks.set(heading, []);
    } else if (heading) {
      blocks.get(heading)?.push(match[2]);
    }
  }
  const env: Record<string, string> = {};

  const sh = async (name: string, index = 0, extra: Record<string, string> = {}): Promise<string> => {
    const script = blocks.get(name)?.[index];
    if (script === undefined) throw new Error(`curl.md has no sh block ${index} under ### ${name}`);
    const result = await run("bash", ["-c", `set -euo pipefail\n${script}`], { env: { ...env, ...extra } });
    if (result.code !== 0) throw new Error(`${name} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  };
  const json = async <T>(name: string, index = 0, extra: Record<string, string> = {}): Promise<T> =>
    JSON.parse(await sh(name, index, extra)) as T;
  /** A REST answer printed with `-w '\nHTTP %{http_code}\n'`. */
  const rest = async (name: string, index = 0, extra: Record<string, string> = {}) => {
    const out = await sh(name, index, extra);
    const match = /^([\s\S]*)\nHTTP (\d{3})\n$/.exec(out);
    if (!match) throw new Error(`${name}: unexpected output ${out}`);
    return { status: Number(match[2]), body: JSON.parse(match[1]) as unknown };
  };

  test("documents every operation of the API", () => {
    const operations = [
      ...[
        "me",
        "gpuTypes",
        "providerSecrets",
        "trainingConfigs",
        "trainingConfig",
        "deployments",
        "deployment",
      ],
      ...["trainingJob", "costs", "setProviderSecret", "deleteProviderSecret", "createTrainingConfig"],
      ...[
        "updateTrainingConfig",
        "deleteTrainingConfig",
        "deployTraining",
        "stopDeployment",
        "refreshDeployment",
      ],
      ...["trainingMetrics", "deploymentUpdated", "GET"],
      ...[
        "POST /api/training/jobs/:jobId/metrics",
        "POST /api/training/jobs/:jobId/status",
        "healthz",
        "readyz",
      ],
    ];
    for (const name of operations) expect(blocks.get(name)?.length ?? 0).toBeGreaterThan(0);
    expect(blocks.get("POST /api/training/jobs/:jobId/metrics")).toHaveLength(2);
  });

  test("the commands work against the gateway, in the order a user would run them", async () => {
    // A user of its own, who starts with nothing.
    Object.assign(env, { TRAINGATE_URL: t.url, TOKEN: await t.token("curl-user") });
    const sim = t.gateway.simulator;
    if (!sim) throw new Error("no simulator");

    expect(await json("healthz")).toEqual({ status: "ok" });
    expect(await json("readyz")).toEqual({ status: "ready", database: "ok", pubsub: "ok" });
    expect(await json("me")).toMatchObject({ data: { me: { id: "curl-user" } } });
    expect(await json("GET")).toEqual({ data: { me: { id: "curl-user" } } });

    expect(await json("setProviderSecret")).toMatchObject({
      data: { setProviderSecret: { provider: "RUNPOD", last4: "cdef", description: "my RunPod key" } },
    });
    expect(await json("providerSecrets")).toEqual({
      data: { providerSecrets: [expect.objectContaining({ provider: "RUNPOD", last4: "cdef" })] },
    });
    const offers = await json<{ data: { gpuTypes: { gpuType: string; available: boolean }[] } }>("gpuTypes");
    expect(offers.data.gpuTypes).toContainEqual(
      expect.objectContaining({ gpuType: "RTX_A4000", available: true }),
    );

    const created = await json<{ data: { createTrainingConfig: { id: string; name: string } } }>(
      "createTrainingConfig",
    );
    expect(created.data.createTrainingConfig).toMatchObject({ name: "curl example", method: "LORA" });
    env.CONFIG_ID = created.data.createTrainingConfig.id;
    expect(await json("trainingConfigs")).toEqual({
      data: { trainingConfigs: [expect.objectContaining({ id: env.CONFIG_ID, name: "curl example" })] },
    });
    expect(await json("trainingConfig")).toMatchObject({
      data: { trainingConfig: { id: env.CONFIG_ID, hyperparameters: { epochs: 1, loraR: 16 } } },
    });
    expect(await json("updateTrainingConfig")).toMatchObject({
      data: { updateTrainingConfig: { name: "curl example, r=32", hyperparameters: { loraR: 32 } } },
    });

    // Slow the simulated world down, so that the job is still open while the pod callbacks are tried.
    sim.setSpeedFactor(1);
    try {
      const deployed = await json<{
        data: { deployTraining: { id: string; status: string; podId: string; job: { id: string } } };
      }>("deployTraining");
      expect(deployed.data.deployTraining).toMatchObject({ gpuType: "RTX_A4000", budgetLimitUsd: 0.5 });
      env.DEPLOYMENT_ID = deployed.data.deployTraining.id;
      env.JOB_ID = deployed.data.deployTraining.job.id;
      expect(await json("deployment")).toMatchObject({
        data: { deployment: { id: env.DEPLOYMENT_ID, job: { id: env.JOB_ID } } },
      });
      expect(await json("deployments")).toMatchObject({
        data: { deployments: { totalCount: 1, edges: [{ node: { id: env.DEPLOYMENT_ID } }] } },
      });
      expect(await json("refreshDeployment")).toMatchObject({
        data: { refreshDeployment: { id: env.DEPLOYMENT_ID } },
      });

      // The job token is only in the pod's environment: the simulator shows it.
      const jobToken = sim.pod(deployed.data.deployTraining.podId)?.env.JOB_TOKEN;
      if (!jobToken) throw new Error("no JOB_TOKEN in the pod's env");
      env.JOB_TOKEN = jobToken;
      const metrics = "POST /api/training/jobs/:jobId/metrics";
      const status = "POST /api/training/jobs/:jobId/status";
      expect(await rest(metrics, 1, { JOB_TOKEN: "wrong" })).toEqual({
        status: 401,
        body: { error: "unauthorized" },
      });
      expect(await rest(metrics)).toEqual({ status: 200, body: { status: "ok", accepted: 1, stop: false } });
      expect(await rest(metrics, 1)).toEqual({
        status: 200,
        body: { status: "ok", accepted: 2, stop: false },
      });
      expect(await rest(status)).toEqual({ status: 200, body: { status: "ok", stop: false } });
      expect(await json("trainingJob")).toMatchObject({
        data: {
          trainingJob: {
            id: env.JOB_ID,
            status: "RUNNING",
            latestMetric: { step: 60, loss: 2.29 },
            metrics: [{ step: 50, loss: 2.34, epoch: 0.5 }, { step: 55 }, { step: 60 }],
          },
        },
      });

      // The subscriptions, through websocat's command line (a stand-in websocat: the real one is not installed).
      const replay = await websocat(
        "trainingMetrics",
        (lines) => lines.filter((l) => l.includes('"next"')).length >= 3,
      );
      expect(replay[0]).toEqual({ type: "connection_ack" });
      expect(replay.slice(1, 4)).toMatchObject(
        [50, 55, 60].map((step) => ({
          id: "1",
          type: "next",
          payload: { data: { trainingMetrics: { step } } },
        })),
      );

      // deploymentUpdated: subscribed (both streams of the block open on the gateway), then the stop is told.
      const subscriptions = t.gateway.services.subscriptions;
      await until(() => subscriptions.open === 0);
      const watching = websocat("deploymentUpdated", (lines) => lines.some((l) => l.includes('"STOPPED"')));
      await until(() => subscriptions.open === 2);
      expect(await json("stopDeployment")).toMatchObject({
        data: { stopDeployment: { id: env.DEPLOYMENT_ID, status: "STOPPED", stopReason: "USER" } },
      });
      const events = await watching;
      expect(events[0]).toEqual({ type: "connection_ack" });
      // Earlier changes (the "running" report above) may come first; the last event is the stop.
      expect(events[events.length - 1]).toMatchObject({
        id: "1",
        type: "next",
        payload: {
          data: { deploymentUpdated: { id: env.DEPLOYMENT_ID, status: "STOPPED", stopReason: "USER" } },
        },
      });
      // The callback routes cache a job's state for up to a second: the stop shows on the next post after that.
      let after = await rest(metrics);
      for (let tries = 0; after.status === 200 && tries < 30; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await rest(metrics);
      }
      expect(after).toEqual({ status: 409, body: { error: "job is finished" } });
    } finally {
      sim.setSpeedFactor(50);
    }

    const costs = await json<{ data: unknown; errors?: { message: string; extensions: { code: string } }[] }>(
      "costs",
    );
    expect(costs.errors).toBeUndefined();
    const report = (costs.data as { costs: { totalUsd: unknown; byDay: unknown } }).costs;
    expect(typeof report.totalUsd).toBe("number");
    expect(Array.isArray(report.byDay)).toBe(true);

    expect(await json("deleteTrainingConfig")).toEqual({ data: { deleteTrainingConfig: true } });
    expect(await json("deleteProviderSecret")).toEqual({ data: { deleteProviderSecret: true } });
    expect(await json("providerSecrets")).toEqual({ data: { providerSecrets: [] } });
  }, 50_000);

  /**
   * Runs a websocat block of curl.md with a stand-in `websocat` first on PATH (stdin lines out as text messages,
   * messages in printed as lines, `--protocol` as the sub-protocol) until `enough(lines)` holds, then kills the
   * pipeline; answers the messages printed.
   */
  async function websocat(name: string, enough: (lines: string[]) => boolean): Promise<unknown[]> {
    const bin = path.join(scratch, "bin");
    const fake = path.join(bin, "websocat");
    mkdirSync(bin, { recursive: true });
    writeFileSync(fake, FAKE_WEBSOCAT.replace("__WS__", JSON.stringify(require.resolve("ws"))));
    chmodSync(fake, 0o755);
    let done = false;
    const script = blocks.get(name)?.[0];
    if (!script) throw new Error(`no block ${name}`);
    const result = await run("bash", ["-c", script], {
      env: { ...env, PATH: `${bin}:${process.env.PATH ?? ""}` },
      detached: true,
      timeoutMs: 15_000,
      onOutput: (stdout, child) => {
        if (done || !enough(stdout.split("\n").filter(Boolean))) return;
        done = true;
        kill(child);
      },
    });
    if (!done) throw new Error(`websocat (${name}) printed ${result.stdout} ${result.stderr}`);
    return result.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as unknown);
  }
});

const FAKE_WEBSOCAT = `#!/usr/bin/env node
// A stand-in for websocat's text mode: websocat [--protocol P] URL
const WebSocket = require(__WS__);
const args = process.argv.slice(2);
const at = args.indexOf("--protocol");
const protocol = at >= 0 ? args[at + 1] : undefined;
const url = args.filter((a, i) => !a.startsWith("--") && i !== at + 1).pop();
const socket = new WebSocket(url, protocol);
const pending = [];
let open = false;
socket.on("open", () => { open = true; for (const line of pending.splice(0)) socket.send(line); });
socket.on("message", (data) => process.stdout.write(data.toString() + "\\n"));
socket.on("close", (code, reason) => {
  process.stderr.write("closed " + code + " " + reason + "\\n");
  process.exit(0);
});
socket.on("error", (error) => { process.stderr.write(String(error) + "\\n"); process.exit(1); });
require("node:readline").createInterface({ input: process.stdin }).on("line", (line) => {
  if (open) socket.send(line); else pending.push(line);
});
`;

/** A TCP proxy to the gateway whose connections can all be cut at once (a dropped network, as the client sees it). */
async function startProxy(
  targetPort: string,
): Promise<{ port: number; drop(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(targetPort), "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    drop: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
