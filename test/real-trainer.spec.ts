import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { HubModelInfoClient } from "../src/hub/hub-model-info";
import { processGroupAlive } from "../src/runpod-sim/local-pod";
import { LOCAL_MODEL_ID } from "../src/runpod-sim/runpod-simulator";
import { startRealPodGateway, type RealPodSetup } from "./support/real-pods";
import { supervisorOf } from "./support/simulated";
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

/** Set once a test closed the gateway itself. */
let closed = false;

afterAll(async () => {
  if (!closed) await s?.close();
});

async function deploy(
  user: string,
  hyperparameters: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const apiKey = await s.withRunpodKey(user);
  const configId = await s.newConfig(user, hyperparameters);
  const res = await s.t.gql<{ deployTraining: { id: string; podId: string; job: { id: string } } }>(
    user,
    `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id podId job { id } } }`,
    { input: { trainingConfigId: configId, ...extra } },
  );
  expect(res.errors).toBeUndefined();
  const deployment = res.data!.deployTraining;
  return { deploymentId: deployment.id, podId: deployment.podId, jobId: deployment.job.id, apiKey };
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

describe("local models", () => {
  it("are sized by the simulator's Hub stand-in, where the gateway's Hub lookups go; other models by their id", async () => {
    expect(s.t.gateway.config.hubEndpoint).toBe(s.sim.hubUrl);
    const hub = new HubModelInfoClient({ endpoint: s.t.gateway.config.hubEndpoint });
    const local = await hub.modelSize(LOCAL_MODEL_ID);
    expect(local?.source).toBe("hub");
    expect(local!.parameters).toBeGreaterThan(0);
    expect(local!.parameters).toBeLessThan(1e6); // tiny: any disk holds it
    expect(await hub.modelSize("TinyLlama/TinyLlama-1.1B-Chat-v1.0")).toMatchObject({
      source: "model id",
      parameters: 1.1e9,
    });
  });

  it("are the only models local pods train: a Hub model is refused at save and at deploy, changing nothing", async () => {
    expect(s.t.gateway.config.localModels).toEqual([LOCAL_MODEL_ID]);
    const only =
      "local pods (RUNPOD_SIMULATOR_TRAINER=real) run offline and can train only the local models: " +
      `${LOCAL_MODEL_ID}; TinyLlama/TinyLlama-1.1B-Chat-v1.0 cannot be loaded there`;
    const input = {
      name: "hub model",
      modelName: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
      datasetUrl: "https://example.com/d.jsonl",
    };
    const created = await s.t.gql(
      "rt-hub",
      `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
      {
        input,
      },
    );
    expect(created.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.modelName",
    });
    expect(created.errors?.[0].message).toBe(`input.modelName: ${only}`);

    // A config saved while the gateway's pods were RunPod's is refused at deploy.
    await s.withRunpodKey("rt-hub");
    const configId = await s.newConfig("rt-hub");
    await s.t.gateway.db.dataSource.query(`UPDATE training_configs SET model_name = $1 WHERE id = $2`, [
      input.modelName,
      configId,
    ]);
    const podsBefore = s.sim.pods().length;
    const deployed = await s.t.gql(
      "rt-hub",
      `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id } }`,
      { input: { trainingConfigId: configId } },
    );
    expect(deployed.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.trainingConfigId",
    });
    expect(deployed.errors?.[0].message).toBe(
      `input.trainingConfigId: the training config's modelName: ${only}`,
    );
    expect(s.sim.pods()).toHaveLength(podsBefore);
    const [{ n }] = await s.t.gateway.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM cloud_deployments WHERE user_id = 'rt-hub'`,
    );
    expect(n).toBe(0);
  });
});

describe("a real run on a local pod", () => {
  it("deploys, reports RUNNING, streams a falling loss, completes, and its adapter downloads and loads with peft", async () => {
    const user = "real-complete";
    const { deploymentId, podId, jobId } = await deploy(user, { epochs: 3 });
    const client = wsClient(s.t.url, await s.t.token(user));
    const points = collect(
      client,
      METRICS,
      { jobId, afterStep: 0 },
      (d) => d.trainingMetrics as { step: number; loss: number },
    );
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

/** Hyperparameters of a run long enough to be stopped in the middle: 10 000 steps of one row each. */
const LONG_RUN = { epochs: 100, batchSize: 1, loggingSteps: 10, saveSteps: 50 };

/** The training summary train.py writes beside the adapter, read from the downloaded artifact. */
async function trainingSummary(artifact: NonNullable<JobView["artifact"]>): Promise<{
  global_step: number;
  stopped_early: string | null;
}> {
  const res = await fetch(artifact.downloadUrl);
  const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-summary-"));
  try {
    writeFileSync(path.join(dir, "result.tar"), Buffer.from(await res.arrayBuffer()));
    const text = execFileSync("tar", ["-xOf", "result.tar", "traingate_training.json"], {
      cwd: dir,
      encoding: "utf8",
    });
    return JSON.parse(text) as { global_step: number; stopped_early: string | null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until the job has stored points up to at least `step` (the run is well under way). */
async function trainedPast(user: string, jobId: string, step: number): Promise<void> {
  await until(`job ${jobId} to pass step ${step}`, async () => {
    const res = await s.t.gql<{ trainingJob: { metrics: { step: number }[] } }>(
      user,
      `query($id: ID!) { trainingJob(id: $id) { metrics { step } } }`,
      { id: jobId },
    );
    return res.data?.trainingJob.metrics.some((m) => m.step >= step) ? true : undefined;
  });
}

/** RunPod's podStop with the account's key, as the console sends it. */
async function podStop(apiKey: string, podId: string): Promise<void> {
  const res = await fetch(s.sim.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      query: `mutation($id: String!) { podStop(input: { podId: $id }) { id desiredStatus } }`,
      variables: { id: podId },
    }),
  });
  expect(((await res.json()) as { data: unknown }).data).toEqual({
    podStop: { id: podId, desiredStatus: "EXITED" },
  });
}

describe("stopping a real run", () => {
  it("stopDeployment mid-run: the trainer saves a checkpoint, the partial adapter reaches the gateway, STOPPED", async () => {
    const user = "real-user-stop";
    const { deploymentId, podId, jobId } = await deploy(user, LONG_RUN);
    await trainedPast(user, jobId, 60);
    const stopped = await s.t.gql<{ stopDeployment: { status: string; stopReason: string } }>(
      user,
      `mutation($id: ID!) { stopDeployment(id: $id) { status stopReason } }`,
      { id: deploymentId },
    );
    expect(stopped.errors).toBeUndefined();
    expect(stopped.data!.stopDeployment).toEqual({ status: "STOPPED", stopReason: "USER" });
    // The pod is terminated upstream at once (billing ends); its container gets SIGTERM and a grace period.
    expect(s.sim.pod(podId)!.desiredStatus).toBe("TERMINATED");
    const job = await until("the partial result at the gateway", async () => {
      const d = await deploymentOf(user, deploymentId);
      return d.job.artifact ? d.job : undefined;
    });
    const summary = await trainingSummary(job.artifact!);
    expect(summary.stopped_early).toContain("SIGTERM");
    expect(summary.global_step).toBeGreaterThanOrEqual(60);
    expect(summary.global_step).toBeLessThan(10_000);
    expect(await loadWithPeft(job.artifact!)).toMatch(/^PeftModelForCausalLM \d+$/);
    expect(s.sim.podLog(podId)).toMatch(/stopping at step \d+: received SIGTERM; saving a checkpoint/);
    // A terminated pod's processes and disk are gone.
    await s.sim.waitFor(() => s.sim.pod(podId)?.process?.running === false, { timeoutMs: 30_000 });
    expect(s.sim.pod(podId)!.checkpointStep).toBe(0);
  }, 150_000);

  it("a budget stop: the trainer honours the callback's stop: true with a checkpoint and a partial adapter", async () => {
    const user = "real-budget-stop";
    const { deploymentId, podId, jobId } = await deploy(user, LONG_RUN, { budgetLimitUsd: 0.1 });
    await trainedPast(user, jobId, 30);
    // Billing on the simulated clock: jump it forward until the supervisor asks the trainer to stop (95 %).
    let stopsRequested = 0;
    for (let i = 0; i < 200 && stopsRequested === 0; i += 1) {
      s.sim.advance(15);
      stopsRequested = (await s.t.gateway.services.supervisor.tick()).stopsRequested;
    }
    expect(stopsRequested).toBe(1);
    const done = await until("the run to stop at its budget", async () => {
      const d = await deploymentOf(user, deploymentId);
      return d.status === "STOPPED" && d.job.artifact ? d : undefined;
    });
    expect(done.stopReason).toBe("BUDGET_EXCEEDED");
    expect(done.job.status).toBe("CANCELLED");
    expect(done.job.artifactUri).toBe(`gateway://${jobId}`);
    const summary = await trainingSummary(done.job.artifact!);
    expect(summary.stopped_early).toMatch(/gateway/);
    expect(summary.global_step).toBeLessThan(10_000);
    expect(s.sim.podLog(podId)).toMatch(/stopping at step \d+: .*gateway.*; saving a checkpoint/);
    // The trainer ended its own pod after reporting, through RunPod's REST API with its pod-scoped key.
    await s.sim.waitFor(() => s.sim.pod(podId)?.desiredStatus === "TERMINATED", { timeoutMs: 30_000 });
    expect(s.sim.restRequests.filter((r) => r.podId === podId)).toEqual([
      expect.objectContaining({ method: "DELETE", auth: "pod-key", status: 204 }),
    ]);
  }, 150_000);

  it("podStop sends SIGTERM: the trainer checkpoints on the kept volume and the run is reported stopped", async () => {
    const user = "real-pod-stop";
    const { deploymentId, podId, jobId, apiKey } = await deploy(user, LONG_RUN);
    await trainedPast(user, jobId, 60);
    // Someone stops the pod on RunPod itself (the console, or RunPod reclaiming it): podStop with the account key.
    await podStop(apiKey, podId);
    await s.sim.waitFor(() => s.sim.pod(podId)?.process?.running === false, { timeoutMs: 30_000 });
    const pod = s.sim.pod(podId)!;
    expect(pod.process!.exitCode).toBe(0);
    // The volume survives a stop, with the checkpoint train.py saved on SIGTERM: a resumed pod trains on from it.
    expect(pod.checkpointStep).toBeGreaterThanOrEqual(60);
    expect(pod.trainingCompleted).toBe(false);
    expect(s.sim.podLog(podId)).toMatch(/stopping at step \d+: received SIGTERM; saving a checkpoint/);
    const done = await until("the stop to be reported", async () => {
      const d = await deploymentOf(user, deploymentId);
      return d.status === "STOPPED" && d.job.artifact ? d : undefined;
    });
    expect(done.job.artifactUri).toBe(`gateway://${jobId}`);
    expect((await trainingSummary(done.job.artifact!)).global_step).toBe(pod.checkpointStep);
    // bootstrap.sh leaves a signalled pod alone, so it stays stopped, its volume billed. Its result is safe at
    // the gateway and it asked to be terminated (onComplete TERMINATE): the supervisor's next sweep ends it.
    expect(s.sim.pod(podId)!.desiredStatus).toBe("EXITED");
    await supervisorOf(s, {}).tick();
    expect(s.sim.pod(podId)!.desiredStatus).toBe("TERMINATED");
  }, 150_000);
});

describe("closing the gateway", () => {
  it("kills a stopped pod's process group within its grace period, and its folder does not outlive the simulator", async () => {
    const user = "real-close";
    const { podId, jobId, apiKey } = await deploy(user, LONG_RUN);
    await trainedPast(user, jobId, 10);
    const pgid = s.sim.pod(podId)!.process!.pid!;
    await podStop(apiKey, podId);
    // SIGTERM reached bootstrap.sh: train.py is saving its checkpoint, the upload is still to come.
    expect(processGroupAlive(pgid)).toBe(true);
    const pods = path.join(s.t.gateway.config.dataDir, "local-pods", "pods");
    expect(readdirSync(pods)).toContain(podId);
    closed = true;
    await s.close();
    expect(processGroupAlive(pgid)).toBe(false);
    expect(readdirSync(pods)).toEqual([]);
  }, 120_000);
});
