import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import type { Client } from "graphql-ws";
import { startRunpodSimulator } from "../src/runpod-sim/runpod-simulator";
import { CloudType, GpuType } from "../src/runpod/gpu-catalogue";
import { RunpodGraphqlClient } from "../src/runpod/runpod-graphql-client";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { collect, wsClient } from "./support/ws";

/** Every key of a metric point in the public callback contract. */
const API_KEYS = [
  "step",
  "epoch",
  "loss",
  "eval_loss",
  "learning_rate",
  "grad_norm",
  "samples_per_second",
  "elapsed_seconds",
  "remaining_seconds",
  "progress",
  "gpu_memory_allocated_gb",
  "gpu_memory_reserved_gb",
  "gpu_utilization_percent",
].sort();

/**
 * Drives the real metrics_reporter.py the way transformers' Trainer would: a callback fed `on_log` for steps
 * 1..N with the logs Trainer emits, then `on_train_end`. Prints the number of points delivered.
 */
const PYTHON_TRAINER = `
import os, sys, types
sys.path.insert(0, os.environ["TRAINER_HOME"])
import metrics_reporter as mr

steps = int(os.environ["STEPS"])
reporter = mr.MetricsReporter.from_env(batch_size=7, flush_interval=0.2, backoff_base=0.05)
callback = mr.create_callback(reporter, gpu_memory=lambda: (12.3, 14.0), gpu_utilization=lambda: 97.0)
args = types.SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=2, world_size=1)
state = types.SimpleNamespace(global_step=0, max_steps=steps, epoch=0.0)
callback.on_train_begin(args, state, None)
for step in range(1, steps + 1):
    state.global_step = step
    state.epoch = step / steps
    callback.on_log(args, state, None, logs={"loss": 3.0 / step, "learning_rate": 0.0002, "grad_norm": 1.5})
callback.on_train_end(args, state, None)
reporter.close(timeout=20)
print("delivered", reporter.delivered_points, "stop", reporter.stop_requested.is_set())
`;

function runPython(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("python3", ["-c", PYTHON_TRAINER], {
      env: { ...process.env, TRAINER_HOME: path.resolve(__dirname, "../trainer-scripts"), ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the pod's Python reporter against a running gateway", () => {
  let t: TestGateway;
  let client: Client | undefined;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await client?.dispose();
    await t.close();
  });

  it("posts points that arrive on a trainingMetrics subscription, in step order", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "py-user");
    client = wsClient(t.url, await t.token("py-user"));
    const received = collect(
      client,
      `subscription($jobId: ID!) { trainingMetrics(jobId: $jobId, afterStep: -1) { step loss progress remainingSeconds gpuMemoryAllocatedGb gpuUtilizationPercent } }`,
      { jobId: rows.job.id },
      (d) =>
        d.trainingMetrics as {
          step: number;
          loss: number;
          progress: number;
          gpuMemoryAllocatedGb: number;
          gpuUtilizationPercent: number;
        },
    );
    const result = await runPython({
      METRICS_API_URL: `${t.url}/api/training/jobs`,
      JOB_ID: rows.job.id,
      JOB_TOKEN: rows.jobToken,
      TRAINGATE_SPOOL_DIR: mkdtempSync(path.join(os.tmpdir(), "traingate-spool-")),
      STEPS: "40",
    });
    expect(result.stderr).not.toContain("Traceback");
    expect(result.stdout.trim()).toBe("delivered 40 stop False");
    const values = await received.until((v) => v.some((p) => p.step === 40));
    expect(values.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(values[39]).toMatchObject({
      loss: 3 / 40,
      progress: 100,
      gpuMemoryAllocatedGb: 12.3,
      gpuUtilizationPercent: 97,
    });
    expect(JSON.stringify(result)).not.toContain(rows.jobToken);
  });
});

describe("payload shape", () => {
  let capture: Server;
  let url: string;
  const bodies: { from: string; points: Record<string, unknown>[] }[] = [];
  /** Who is posting now: the two producers run one after the other. */
  let producer = "python";
  beforeAll(async () => {
    capture = createServer((req: IncomingMessage, res) => {
      let raw = "";
      req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
      req.on("end", () => {
        if (req.url?.endsWith("/metrics")) {
          const body = JSON.parse(raw) as { metrics?: Record<string, unknown>[] };
          bodies.push({ from: producer, points: body.metrics ?? [body] });
        }
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "ok", accepted: 1, stop: false }));
      });
    });
    await new Promise<void>((resolve) => capture.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(capture.address() as { port: number }).port}/api/training/jobs`;
  });
  afterAll(() => new Promise<void>((resolve) => capture.close(() => resolve())));

  it("is the same for the simulator's trainer and the pod's Python reporter: the contract's keys, no more, no less", async () => {
    const python = await runPython({
      METRICS_API_URL: url,
      JOB_ID: "shape-job",
      JOB_TOKEN: "t",
      TRAINGATE_SPOOL_DIR: mkdtempSync(path.join(os.tmpdir(), "traingate-spool-")),
      STEPS: "10",
    });
    expect(python.stdout.trim()).toBe("delivered 10 stop False");
    producer = "simulator";

    const sim = await startRunpodSimulator({
      speedFactor: 100,
      trainer: { totalSteps: 20, fixedPace: true, stepsPerSecond: 5 },
    });
    try {
      const { apiKey } = sim.addAccount();
      const config = { hyperparameters: { loggingSteps: 5 }, output: { onComplete: "TERMINATE" } };
      await new RunpodGraphqlClient({ url: sim.url }).createPod(apiKey, {
        name: "traingate-shape",
        gpuType: GpuType.RTX_A4000,
        gpuCount: 1,
        cloudType: CloudType.SECURE,
        imageName: "runpod/pytorch",
        dockerArgs: "true",
        env: {
          JOB_ID: "shape-job",
          JOB_TOKEN: "t",
          METRICS_API_URL: url,
          TRAINGATE_CONFIG_B64: Buffer.from(JSON.stringify(config)).toString("base64"),
        },
        volumeInGb: 10,
        containerDiskInGb: 10,
      });
      await sim.waitFor(() => bodies.some((b) => b.from === "simulator"), {
        timeoutMs: 20_000,
        what: "the simulated trainer's points",
      });
    } finally {
      await sim.close();
    }
    const keysOf = (from: string) =>
      new Set(
        bodies
          .filter((b) => b.from === from)
          .flatMap((b) => b.points.map((p) => Object.keys(p).sort().join(","))),
      );
    expect([...keysOf("python")]).toEqual([API_KEYS.join(",")]);
    expect([...keysOf("simulator")]).toEqual([API_KEYS.join(",")]);
  });
});
