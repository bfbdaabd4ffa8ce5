import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

/**
 * train.py with the pod's real libraries (the pinned stack in the pod venv, CPU torch) trains a tiny random
 * llama and reports to a real gateway: the points are stored, and every metric the library provides is
 * non-null. The venv is created here when it is missing (trainer-scripts/pod-venv.sh; about a minute cold).
 */
const SCRIPTS = path.resolve(__dirname, "../trainer-scripts");
const OFFLINE = { HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", HF_DATASETS_OFFLINE: "1" };

interface Metric {
  step: number;
  epoch: number | null;
  loss: number | null;
  evalLoss: number | null;
  learningRate: number | null;
  gradNorm: number | null;
  samplesPerSecond: number | null;
  progress: number | null;
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}

function runTrain(
  python: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(python, [path.join(SCRIPTS, "train.py")], {
      cwd: SCRIPTS,
      env: { ...process.env, ...OFFLINE, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false", ...env },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("train.py with the real libraries against a running gateway", () => {
  let t: TestGateway;
  let python: string;
  let model: string;
  beforeAll(async () => {
    const venv = spawnSync("bash", [path.join(SCRIPTS, "pod-venv.sh")], { encoding: "utf8" });
    if (venv.status !== 0) {
      throw new Error(`trainer-scripts/pod-venv.sh failed (exit ${venv.status}):\n${venv.stderr}`);
    }
    python = lastLine(venv.stdout);
    const built = spawnSync(python, ["-m", "tests_real.fixtures", "llama"], {
      cwd: SCRIPTS,
      encoding: "utf8",
      env: { ...process.env, ...OFFLINE, OMP_NUM_THREADS: "1" },
    });
    if (built.status !== 0) throw new Error(`building the tiny model failed:\n${built.stderr}`);
    model = (JSON.parse(lastLine(built.stdout)) as { llama: string }).llama;
    t = await startTestGateway();
  }, 600_000);
  afterAll(async () => {
    await t?.close();
  });

  it("stores every point of a tiny real run, with loss, lr, grad norm, epoch, samples/s and eval loss non-null", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "pod-real-user");
    const scratch = mkdtempSync(path.join(os.tmpdir(), "traingate-pod-real-"));
    const dataset = path.join(scratch, "train.jsonl");
    const lines = Array.from({ length: 10 }, (_, i) =>
      JSON.stringify({
        messages: [
          { role: "user", content: `what is ${i} plus ${i}?` },
          { role: "assistant", content: String(2 * i) },
        ],
      }),
    );
    writeFileSync(dataset, lines.join("\n") + "\n");
    const config = {
      modelName: model,
      datasetUrl: "hf://datasets/alice/arithmetic/train.jsonl@main",
      method: "LORA",
      hyperparameters: {
        epochs: 1,
        batchSize: 2,
        loggingSteps: 1,
        saveSteps: 2,
        evalSplit: 0.2,
        maxSeqLength: 64,
        loraR: 4,
        loraAlpha: 8,
        gradientCheckpointing: false,
        warmupRatio: 0,
      },
    };
    const result = await runTrain(python, {
      TRAINGATE_CONFIG_B64: Buffer.from(JSON.stringify(config)).toString("base64"),
      TRAINGATE_WORKSPACE: path.join(scratch, "workspace"),
      TRAINGATE_DATASET_PATH: dataset,
      TRAINGATE_SPOOL_DIR: path.join(scratch, "spool"),
      HF_HOME: path.join(scratch, "hf-home"),
      METRICS_API_URL: `${t.url}/api/training/jobs`,
      JOB_ID: rows.job.id,
      JOB_TOKEN: rows.jobToken,
    });
    expect(result.output).not.toContain("Traceback");
    expect(result.code).toBe(0);
    expect(result.output).toContain("training finished after 4 steps");

    const response = await t.gql<{ trainingJob: { metrics: Metric[] } }>(
      "pod-real-user",
      `query($id: ID!) { trainingJob(id: $id) { metrics { step epoch loss evalLoss learningRate gradNorm samplesPerSecond progress } } }`,
      { id: rows.job.id },
    );
    expect(response.errors).toBeUndefined();
    const metrics = response.data!.trainingJob.metrics;
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    const present = ["loss", "learningRate", "gradNorm", "epoch", "samplesPerSecond"] as const;
    for (const m of metrics) {
      for (const key of present) expect([m.step, key, typeof m[key]]).toEqual([m.step, key, "number"]);
    }
    expect(typeof metrics[1].evalLoss).toBe("number");
    expect(typeof metrics[3].evalLoss).toBe("number");
    expect(metrics[3].progress).toBe(100);
    expect(result.output).not.toContain(rows.jobToken);
  }, 300_000);
});
