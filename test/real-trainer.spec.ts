import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LOCAL_MODEL_ID } from "../src/runpod-sim/runpod-simulator";
import { startRealPodGateway, type RealPodSetup } from "./support/real-pods";
import { collect, wsClient } from "./support/ws";

/**
 * The whole loop with the real trainer: the RunPod simulator runs each pod as a local process executing the
 * container command the gateway sent (trainer-scripts/bootstrap.sh -> train.py, metrics_reporter.py,
 * artifact_upload.py) on CPU with the pod venv, on a tiny random-weight llama and a synthetic dataset built
 * locally. Everything is observed over GraphQL, graphql-ws and the artifact route, as a user would.
 */

interface JobView {
  status: string;
  artifactUri: string | null;
  artifact: {
    uri: string;
    sizeBytes: number;
    sha256: string;
    files: { name: string; sizeBytes: number }[];
    downloadUrl: string;
  } | null;
}

interface DeploymentView {
  status: string;
  stopReason: string | null;
  podId: string | null;
  job: JobView & { id: string };
}

const DEPLOYMENT = `query($id: ID!) { deployment(id: $id) { status stopReason podId
  job { id status artifactUri artifact { uri sizeBytes sha256 files { name sizeBytes } downloadUrl } } } }`;

const METRICS = `subscription($jobId: ID!, $afterStep: Int) {
  trainingMetrics(jobId: $jobId, afterStep: $afterStep) { step loss } }`;

let s: RealPodSetup;

beforeAll(async () => {
  s = await startRealPodGateway();
}, 600_000);

afterAll(async () => {
  await s?.close();
});

async function deploy(user: string, hyperparameters: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  await s.withRunpodKey(user);
  const configId = await s.newConfig(user, hyperparameters);
  const res = await s.t.gql<{ deployTraining: { id: string; podId: string; job: { id: string } } }>(
    user,
    `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id podId job { id } } }`,
    { input: { trainingConfigId: configId, ...extra } },
  );
  expect(res.errors).toBeUndefined();
  const deployment = res.data!.deployTraining;
  return { deploymentId: deployment.id, podId: deployment.podId, jobId: deployment.job.id };
}

async function deploymentOf(user: string, id: string): Promise<DeploymentView> {
  const res = await s.t.gql<{ deployment: DeploymentView }>(user, DEPLOYMENT, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.deployment;
}

/** Polls `probe` every 200 ms (the pods share two cores with the gateway) until it answers; fails after `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Downloads the artifact, checks its hash, unpacks it and loads it onto the local model with peft. */
async function loadWithPeft(artifact: NonNullable<JobView["artifact"]>): Promise<string> {
  const res = await fetch(artifact.downloadUrl);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(createHash("sha256").update(bytes).digest("hex")).toBe(artifact.sha256);
  const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-artifact-"));
  try {
    writeFileSync(path.join(dir, "result.tar"), bytes);
    execFileSync("tar", ["-xf", "result.tar"], { cwd: dir });
    rmSync(path.join(dir, "result.tar"));
    const loaded = spawnSync(
      s.python,
      [
        "-c",
        "import sys; from transformers import AutoModelForCausalLM; from peft import PeftModel; " +
          "m = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(sys.argv[1]), sys.argv[2]); " +
          "print(type(m).__name__, sum(p.numel() for n, p in m.named_parameters() if 'lora_' in n))",
        LOCAL_MODEL_ID,
        dir,
      ],
      {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH,
          HF_HUB_CACHE: s.hubCache,
          HF_HUB_OFFLINE: "1",
          TRANSFORMERS_OFFLINE: "1",
          OMP_NUM_THREADS: "1",
        },
      },
    );
    expect(loaded.stderr).not.toContain("Traceback");
    expect(loaded.status).toBe(0);
    return loaded.stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("a real run on a local pod", () => {
  it("deploys, reports RUNNING, streams a falling loss, completes, and its adapter downloads and loads with peft", async () => {
    const user = "real-complete";
    const { deploymentId, podId, jobId } = await deploy(user, { epochs: 3 });
    const client = wsClient(s.t.url, await s.t.token(user));
    const points = collect(client, METRICS, { jobId, afterStep: 0 }, (d) => d.trainingMetrics as { step: number; loss: number });
    try {
      await until("the deployment to be RUNNING", async () => {
        const d = await deploymentOf(user, deploymentId);
        return ["RUNNING", "COMPLETED"].includes(d.status) ? d : undefined;
      });
      const done = await until("the job to complete with its artifact", async () => {
        const d = await deploymentOf(user, deploymentId);
        return d.job.status === "COMPLETED" && d.job.artifact ? d : undefined;
      });
      expect(done.status).toBe("COMPLETED");
      // 100 rows, batches of 4, 3 epochs: 75 steps, a point every 2 and the last one.
      const metrics = await points.until((v) => v.some((p) => p.step === 75));
      const steps = metrics.map((p) => p.step);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
      expect(new Set(steps).size).toBe(steps.length);
      const mean = (xs: { loss: number }[]) => xs.reduce((sum, p) => sum + p.loss, 0) / xs.length;
      expect(mean(metrics.slice(-5))).toBeLessThan(mean(metrics.slice(0, 5)) - 0.3);

      const artifact = done.job.artifact!;
      expect(done.job.artifactUri).toBe(`gateway://${jobId}`);
      expect(artifact.files.map((f) => f.name)).toEqual(
        expect.arrayContaining(["adapter_config.json", "adapter_model.safetensors"]),
      );
      expect(await loadWithPeft(artifact)).toMatch(/^PeftModelForCausalLM \d+$/);
      // The pod ended itself once the result was stored (onComplete TERMINATE): its process and disk are gone.
      await s.sim.waitFor(() => s.sim.pod(podId)?.desiredStatus === "TERMINATED", { timeoutMs: 30_000 });
      await s.sim.waitFor(() => s.sim.pod(podId)?.process?.running === false, { timeoutMs: 30_000 });
      expect(readdirSync(path.dirname(s.sim.pod(podId)!.process!.logFile))).toContain(
        path.basename(s.sim.pod(podId)!.process!.logFile),
      );
      expect(s.sim.restRequests.filter((r) => r.podId === podId)).toEqual([
        expect.objectContaining({ method: "DELETE", auth: "pod-key", status: 204 }),
      ]);
    } finally {
      points.dispose();
      await client.dispose();
    }
  }, 150_000);
});
