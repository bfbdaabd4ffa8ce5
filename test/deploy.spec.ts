import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hashJobToken } from "../src/auth/job-token";
import { DEFAULT_TRAINER_IMAGE } from "../src/config/env";
import { LOCAL_MODEL_IDS } from "../src/config/local-models";
import { deploymentTopics as topics } from "../src/deployments/deployment-stream";
import { NO_CAPACITY_MESSAGE } from "../src/runpod-sim/runpod-simulator";
import { POD_DOCKER_ARGS } from "../src/trainer/pod-bootstrap";
import { startSimulatedGateway, type SimulatedSetup } from "./support/simulated";

const DEPLOY = `mutation($input: DeployTrainingInput!) {
  deployTraining(input: $input) {
    id status stopReason podId consoleUrl gpuType gpuCount cloudType costPerHourUsd budgetLimitUsd actualCostUsd
    errorMessage createdAt job { id status } trainingConfig { id name }
  }
}`;
type Deployed = {
  id: string;
  status: string;
  stopReason: string | null;
  podId: string | null;
  consoleUrl: string | null;
  gpuType: string;
  costPerHourUsd: number | null;
  budgetLimitUsd: number;
  errorMessage: string | null;
  job: { id: string; status: string };
  trainingConfig: { id: string; name: string };
};

/**
 * A stand-in for the Hub's model metadata (`GET /api/models/<id>`) on a local port: tests never reach the
 * internet. Models it does not list answer 404, so their size comes from the model id.
 */
const hubModels: Record<string, unknown> = {
  "acme/mystery-model": { id: "acme/mystery-model", safetensors: { parameters: { BF16: 3e9, F32: 1e6 } } },
  "acme/gated-model": { id: "acme/gated-model", safetensors: { parameters: { BF16: 1e9 } } },
};
const hubRequests: { path: string; headers: IncomingHttpHeaders }[] = [];
let hub: Server;

let s: SimulatedSetup;
beforeAll(async () => {
  hub = createServer((req, res) => {
    hubRequests.push({ path: req.url ?? "", headers: req.headers });
    const info = hubModels[decodeURIComponent((req.url ?? "").replace(/^\/api\/models\//, ""))];
    res.writeHead(info ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(info ?? { error: "Repository not found" }));
  });
  await new Promise<void>((resolve) => hub.listen(0, "127.0.0.1", resolve));
  s = await startSimulatedGateway({
    env: { HF_ENDPOINT: `http://127.0.0.1:${(hub.address() as AddressInfo).port}` },
  });
});
afterAll(async () => {
  await s.close();
  await new Promise((resolve) => hub.close(resolve));
});

/** The create calls the simulator received, in order. */
const creates = () =>
  s.sim.requests
    .filter((r) => r.fields.includes("podFindAndDeployOnDemand"))
    .map((r) => (r.variables as { input: Record<string, unknown> }).input);

/** How many deployment and job rows `user` has. */
async function storedRows(user: string): Promise<{ deployments: number; jobs: number }> {
  const [row] = await s.t.gateway.db.dataSource.query<{ deployments: number; jobs: number }[]>(
    `SELECT (SELECT count(*)::int FROM cloud_deployments WHERE user_id = $1) AS deployments,
            (SELECT count(*)::int FROM training_jobs WHERE user_id = $1) AS jobs`,
    [user],
  );
  return row;
}

async function deploy(user: string, input: Record<string, unknown>) {
  return s.t.gql<{ deployTraining: Deployed }>(user, DEPLOY, { input });
}

describe("deployTraining against the RunPod simulator", () => {
  it("creates the pod with the exact gpuTypeId, the job's env and a terminateAfter, and never shows the key", async () => {
    const apiKey = await s.withRunpodKey("dep-a");
    const configId = await s.newConfig("dep-a");
    s.sim.clearRequests();
    const before = Date.now();
    const res = await deploy("dep-a", {
      trainingConfigId: configId,
      gpuType: "H100_SXM",
      budgetLimitUsd: 20,
      env: [{ name: "WANDB_PROJECT", value: "tg 'quoted' $(x)" }],
    });
    expect(res.errors).toBeUndefined();
    const d = res.data!.deployTraining;
    expect(d).toMatchObject({
      status: "STARTING",
      gpuType: "H100_SXM",
      gpuCount: 1,
      cloudType: "SECURE",
      budgetLimitUsd: 20,
    });
    expect(d.podId).toMatch(/^[a-z0-9]{14}$/);
    expect(d.consoleUrl).toContain(d.podId);
    expect(d.trainingConfig.id).toBe(configId);
    expect(d.job.status).toBe("PENDING");

    const [input] = creates();
    expect(input).toMatchObject({
      name: `traingate-${d.id}`,
      gpuTypeId: "NVIDIA H100 80GB HBM3",
      gpuCount: 1,
      cloudType: "SECURE",
      dockerArgs: POD_DOCKER_ARGS,
      volumeMountPath: "/workspace",
      // The default image is built for CUDA 12.8: only hosts whose driver supports it.
      imageName: DEFAULT_TRAINER_IMAGE,
      minCudaVersion: "12.8",
      allowedCudaVersions: ["12.8", "12.9", "13.0"],
    });
    const env = Object.fromEntries(
      (input.env as { key: string; value: string }[]).map((e) => [e.key, e.value]),
    );
    expect(env).toMatchObject({
      JOB_ID: d.job.id,
      METRICS_API_URL: `${s.t.gateway.config.publicUrl}/api/training/jobs`,
      TRAINGATE_DEPLOYMENT_ID: d.id,
      TRAINGATE_GPU_COUNT: "1",
      WANDB_PROJECT: "tg 'quoted' $(x)",
    });
    // No Hugging Face token saved: none is sent.
    expect(env).not.toHaveProperty("HF_TOKEN");
    const [{ job_token_hash }] = await s.t.gateway.db.dataSource.query<{ job_token_hash: string }[]>(
      `SELECT job_token_hash FROM training_jobs WHERE id = $1`,
      [d.job.id],
    );
    expect(env.JOB_TOKEN).toHaveLength(43);
    expect(hashJobToken(env.JOB_TOKEN)).toBe(job_token_hash);
    expect(job_token_hash).not.toContain(env.JOB_TOKEN);

    // $20 at the H100 offer (plus 40 GB of disk) lasts this long; RunPod ends the pod by itself one watchdog
    // interval (15 s by default) later.
    const price = d.costPerHourUsd!;
    const hours = 20 / (price + (40 * 0.1) / 730);
    const terminateAfter = Date.parse(input.terminateAfter as string);
    expect(terminateAfter).toBeGreaterThan(before + hours * 3600_000 - 5_000);
    expect(terminateAfter).toBeLessThan(Date.now() + hours * 3600_000 + 15_000 + 5_000);
    const deadline = Date.parse(env.BUDGET_DEADLINE);
    expect(deadline).toBeLessThan(terminateAfter);

    const everything = JSON.stringify(res) + s.t.logs.text;
    expect(everything).not.toContain(apiKey);
    expect(everything).not.toContain(env.JOB_TOKEN);
  });

  it("answers the same deployment for a repeated idempotency key, with one pod", async () => {
    await s.withRunpodKey("dep-idem");
    const configId = await s.newConfig("dep-idem");
    s.sim.clearRequests();
    const input = { trainingConfigId: configId, idempotencyKey: "order-42" };
    const first = await deploy("dep-idem", input);
    const second = await deploy("dep-idem", input);
    expect(second.data!.deployTraining.id).toBe(first.data!.deployTraining.id);
    expect(creates()).toHaveLength(1);
  });

  it("creates one pod for 10 concurrent requests with one idempotency key", async () => {
    await s.withRunpodKey("dep-race");
    const configId = await s.newConfig("dep-race");
    s.sim.clearRequests();
    const input = { trainingConfigId: configId, idempotencyKey: "burst" };
    const results = await Promise.all(Array.from({ length: 10 }, () => deploy("dep-race", input)));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    expect(new Set(results.map((r) => r.data!.deployTraining.id)).size).toBe(1);
    expect(creates()).toHaveLength(1);
    const rows = await s.t.gateway.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM cloud_deployments WHERE user_id = 'dep-race'`,
    );
    expect(rows[0].n).toBe(1);
  });

  it("tries the fallback GPU types in order when RunPod has no capacity", async () => {
    await s.withRunpodKey("dep-fb");
    const configId = await s.newConfig("dep-fb");
    s.sim.faults.noCapacity("NVIDIA RTX A4000");
    s.sim.faults.noCapacity("NVIDIA RTX A5000");
    s.sim.clearRequests();
    try {
      const res = await deploy("dep-fb", {
        trainingConfigId: configId,
        gpuType: "RTX_A4000",
        fallbackGpuTypes: ["RTX_A5000", "RTX_A6000", "A40"],
      });
      expect(res.errors).toBeUndefined();
      expect(res.data!.deployTraining).toMatchObject({ status: "STARTING", gpuType: "RTX_A6000" });
      expect(creates().map((i) => i.gpuTypeId)).toEqual([
        "NVIDIA RTX A4000",
        "NVIDIA RTX A5000",
        "NVIDIA RTX A6000",
      ]);
    } finally {
      s.sim.faults.restoreCapacity();
    }
  });

  it("leaves a FAILED deployment and no pod when there is no capacity and no fallback", async () => {
    const apiKey = await s.withRunpodKey("dep-none");
    const configId = await s.newConfig("dep-none");
    s.sim.faults.noCapacity("NVIDIA RTX A4000");
    try {
      const res = await deploy("dep-none", { trainingConfigId: configId });
      expect(res.errors?.[0].extensions).toMatchObject({ code: "GPU_UNAVAILABLE" });
      expect(res.errors?.[0].message).toContain(NO_CAPACITY_MESSAGE);
      const deploymentId = res.errors?.[0].extensions?.deploymentId as string;
      const listed = await s.t.gql<{
        deployment: { status: string; stopReason: string; errorMessage: string; job: { status: string } };
      }>(
        "dep-none",
        `query($id: ID!) { deployment(id: $id) { status stopReason errorMessage job { status } } }`,
        { id: deploymentId },
      );
      expect(listed.data?.deployment).toMatchObject({
        status: "FAILED",
        stopReason: "FAILED",
        job: { status: "FAILED" },
      });
      expect(listed.data?.deployment.errorMessage).toContain("no GPU available");
      expect(s.sim.pods(apiKey)).toEqual([]);
    } finally {
      s.sim.faults.restoreCapacity();
    }
  });

  it("refuses offers above maxPricePerHourUsd", async () => {
    const apiKey = await s.withRunpodKey("dep-max");
    const configId = await s.newConfig("dep-max");
    const res = await deploy("dep-max", {
      trainingConfigId: configId,
      gpuType: "H200",
      maxPricePerHourUsd: 0.5,
    });
    expect(res.errors?.[0].extensions).toEqual({ code: "GPU_UNAVAILABLE" });
    expect(res.errors?.[0].message).toMatch(/above maxPricePerHourUsd/);
    expect(s.sim.pods(apiKey)).toEqual([]);
    expect(await storedRows("dep-max")).toEqual({ deployments: 0, jobs: 0 });
  });

  it("answers BUDGET_EXCEEDED, with the numbers, when the budget cannot pay for 10 minutes", async () => {
    const apiKey = await s.withRunpodKey("dep-budget");
    const configId = await s.newConfig("dep-budget");
    const res = await deploy("dep-budget", {
      trainingConfigId: configId,
      gpuType: "H200",
      gpuCount: 8,
      budgetLimitUsd: 1,
    });
    // A refusal before any pod is asked for stores nothing: no FAILED deployment in the caller's list.
    expect(res.errors?.[0].extensions).toEqual({
      code: "BUDGET_EXCEEDED",
      field: "input.budgetLimitUsd",
    });
    expect(res.errors?.[0].message).toMatch(
      /budgetLimitUsd \$1 pays for less than 10 minutes: H200 x8 costs \$[\d.]+\/h/,
    );
    expect(s.sim.pods(apiKey)).toEqual([]);
    expect(await storedRows("dep-budget")).toEqual({ deployments: 0, jobs: 0 });
    const listed = await s.t.gql<{ deployments: { totalCount: number } }>(
      "dep-budget",
      `{ deployments { totalCount } }`,
    );
    expect(listed.data?.deployments.totalCount).toBe(0);
  });

  it("answers NOT_FOUND for another user's config and creates nothing upstream", async () => {
    await s.withRunpodKey("dep-thief");
    const victimConfig = await s.newConfig("dep-victim");
    s.sim.clearRequests();
    const res = await deploy("dep-thief", { trainingConfigId: victimConfig });
    expect(res.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    expect(creates()).toHaveLength(0);
  });

  it("answers PROVIDER_SECRET_MISSING without a RunPod key, or without a Hugging Face token for a Hub push", async () => {
    const configId = await s.newConfig("dep-nokey");
    const noKey = await deploy("dep-nokey", { trainingConfigId: configId });
    expect(noKey.errors?.[0].extensions).toMatchObject({
      code: "PROVIDER_SECRET_MISSING",
      provider: "RUNPOD",
    });
    await s.withRunpodKey("dep-nokey");
    const noHf = await deploy("dep-nokey", {
      trainingConfigId: configId,
      output: { hubRepoId: "me/adapter" },
    });
    expect(noHf.errors?.[0].extensions).toMatchObject({
      code: "PROVIDER_SECRET_MISSING",
      provider: "HUGGINGFACE",
    });
    const rows = await s.t.gateway.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM cloud_deployments WHERE user_id = 'dep-nokey'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it("hands the Hugging Face token to the pod as HF_TOKEN and resolves onComplete", async () => {
    await s.withRunpodKey("dep-hub");
    const configId = await s.newConfig("dep-hub");
    await s.t.gql(
      "dep-hub",
      `mutation { setProviderSecret(input: { provider: HUGGINGFACE, apiKey: "hf_hubtokenhubtoken1234" }) { last4 } }`,
    );
    s.sim.clearRequests();
    const res = await deploy("dep-hub", { trainingConfigId: configId, output: { hubRepoId: "me/adapter" } });
    expect(res.errors).toBeUndefined();
    const env = Object.fromEntries(
      (creates()[0].env as { key: string; value: string }[]).map((e) => [e.key, e.value]),
    );
    expect(env.HF_TOKEN).toBe("hf_hubtokenhubtoken1234");
    const config = JSON.parse(Buffer.from(env.TRAINGATE_CONFIG_B64, "base64").toString()) as {
      output: Record<string, unknown>;
    };
    expect(config.output).toEqual({
      hubRepoId: "me/adapter",
      hubPrivate: true,
      networkVolumeId: null,
      gateway: false,
      onComplete: "TERMINATE",
    });
    expect(JSON.stringify(res) + s.t.logs.text).not.toContain("hf_hubtokenhubtoken1234");
  });

  /** The env of the latest create call, as a record. */
  const lastCreateEnv = () =>
    Object.fromEntries(
      (creates().at(-1)!.env as { key: string; value: string }[]).map((e) => [e.key, e.value]),
    );
  const rowsOf = async (user: string) =>
    (
      await s.t.gateway.db.dataSource.query<{ n: number }[]>(
        `SELECT (SELECT count(*) FROM cloud_deployments WHERE user_id = $1)::int
              + (SELECT count(*) FROM training_jobs WHERE user_id = $1)::int AS n`,
        [user],
      )
    )[0].n;

  it.each([
    ["no output", undefined, { gateway: true, onComplete: "TERMINATE" }],
    [
      "gateway: false with onComplete STOP",
      { gateway: false, onComplete: "STOP" },
      { gateway: false, onComplete: "STOP" },
    ],
    ["onComplete: STOP", { onComplete: "STOP" }, { gateway: true, onComplete: "STOP" }],
  ])("renders the result's destination for %s into the trainer config", async (_what, output, expected) => {
    await s.withRunpodKey("dep-dest");
    const configId = await s.newConfig("dep-dest");
    s.sim.clearRequests();
    const res = await deploy("dep-dest", { trainingConfigId: configId, ...(output ? { output } : {}) });
    expect(res.errors).toBeUndefined();
    const config = JSON.parse(Buffer.from(lastCreateEnv().TRAINGATE_CONFIG_B64, "base64").toString()) as {
      output: Record<string, unknown>;
    };
    expect(config.output).toMatchObject(expected);
  });

  it("refuses gateway false with no Hub repo, no volume and a pod that is terminated: the result would be lost", async () => {
    await s.withRunpodKey("dep-lost");
    const configId = await s.newConfig("dep-lost");
    s.sim.clearRequests();
    const res = await deploy("dep-lost", { trainingConfigId: configId, output: { gateway: false } });
    expect(res.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.output.gateway",
    });
    expect(res.errors?.[0].message).toBe(
      "input.output.gateway: the result would be deleted with the pod: give hubRepoId or networkVolumeId, " +
        "keep gateway true, or set onComplete STOP",
    );
    expect(creates()).toHaveLength(0);
    expect(await rowsOf("dep-lost")).toBe(0);
  });

  it("refuses to deploy a saved config on a local model of the simulator, which RunPod's pods cannot load", async () => {
    await s.withRunpodKey("dep-local");
    const configId = await s.newConfig("dep-local");
    // Saved while the gateway ran the simulator's local pods: createTrainingConfig refuses it here.
    await s.t.gateway.db.dataSource.query(`UPDATE training_configs SET model_name = $1 WHERE id = $2`, [
      LOCAL_MODEL_IDS[0],
      configId,
    ]);
    s.sim.clearRequests();
    const res = await deploy("dep-local", { trainingConfigId: configId });
    expect(res.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.trainingConfigId",
    });
    expect(res.errors?.[0].message).toBe(
      `input.trainingConfigId: the training config's modelName: ${LOCAL_MODEL_IDS[0]} is a local model of the ` +
        "RunPod simulator: only its local pods (RUNPOD_SIMULATOR=true with RUNPOD_SIMULATOR_TRAINER=real) can " +
        "train it; name a model on the Hugging Face Hub",
    );
    expect(creates()).toHaveLength(0);
    expect(await rowsOf("dep-local")).toBe(0);
  });

  it("hands a saved Hugging Face token to the pod without a Hub push (gated models and datasets)", async () => {
    const token = "hf_gatedgatedgated5678";
    await s.withRunpodKey("dep-gated");
    const configId = await s.newConfig("dep-gated", { modelName: "acme/gated-model" });
    await s.t.gql(
      "dep-gated",
      `mutation($k: String!) { setProviderSecret(input: { provider: HUGGINGFACE, apiKey: $k }) { last4 } }`,
      { k: token },
    );
    s.sim.clearRequests();
    hubRequests.length = 0;
    const res = await deploy("dep-gated", { trainingConfigId: configId });
    expect(res.errors).toBeUndefined();
    expect(lastCreateEnv().HF_TOKEN).toBe(token);
    // The gated model's metadata was asked for with the caller's token.
    expect(hubRequests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ["/api/models/acme/gated-model", `Bearer ${token}`],
    ]);
    expect(JSON.stringify(res) + s.t.logs.text).not.toContain(token);
  });

  it("refuses more than one GPU for QLoRA or a quantized base, naming gpuCount, and passes the count to the pod", async () => {
    await s.withRunpodKey("dep-gpus");
    const qlora = await s.newConfig("dep-gpus", { method: "QLORA" });
    const int8 = await s.newConfig("dep-gpus", { hyperparameters: { quantization: "INT8" } });
    const lora = await s.newConfig("dep-gpus");
    s.sim.clearRequests();
    for (const configId of [qlora, int8]) {
      const res = await deploy("dep-gpus", { trainingConfigId: configId, gpuCount: 2, gpuType: "A40" });
      expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.gpuCount" });
      expect(res.errors?.[0].message).toMatch(/one GPU.*LORA or FULL/);
    }
    expect(creates()).toHaveLength(0);
    expect(await rowsOf("dep-gpus")).toBe(0);

    const one = await deploy("dep-gpus", { trainingConfigId: qlora, gpuCount: 1 });
    expect(one.errors).toBeUndefined();
    const multi = await deploy("dep-gpus", { trainingConfigId: lora, gpuCount: 2, gpuType: "A40" });
    expect(multi.errors).toBeUndefined();
    expect(creates().at(-1)).toMatchObject({ gpuCount: 2 });
    expect(lastCreateEnv().TRAINGATE_GPU_COUNT).toBe("2");
  });

  it("refuses an env that would take the pod over RunPod's 50 variables, with the numbers", async () => {
    await s.withRunpodKey("dep-env50");
    const configId = await s.newConfig("dep-env50");
    const vars = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `V${i}`, value: "x" }));
    s.sim.clearRequests();
    const res = await deploy("dep-env50", { trainingConfigId: configId, env: vars(42) });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.env" });
    expect(res.errors?.[0].message).toBe(
      "input.env: RunPod allows 50 environment variables per pod and the gateway sets 9 itself, so at most 41 may be given (got 42)",
    );
    expect(creates()).toHaveLength(0);
    expect(await rowsOf("dep-env50")).toBe(0);
    const fits = await deploy("dep-env50", { trainingConfigId: configId, env: vars(41) });
    expect(fits.errors).toBeUndefined();
    expect(creates().at(-1)!.env).toHaveLength(50);
  });

  it("refuses a volume that cannot hold the model and its checkpoints, naming the field with the numbers", async () => {
    await s.withRunpodKey("dep-disk");
    // 1.1B parameters from the name: a FULL run keeps two checkpoints with optimizer state (~26 GB).
    const full = await s.newConfig("dep-disk", { method: "FULL" });
    s.sim.clearRequests();
    const res = await deploy("dep-disk", { trainingConfigId: full });
    expect(res.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.volumeSizeGb",
      neededGb: 32,
      givenGb: 20,
    });
    expect(res.errors?.[0].message).toMatch(
      /^input\.volumeSizeGb: TinyLlama\/TinyLlama-1\.1B-Chat-v1\.0 \(1\.1B parameters, estimated from its name\) needs about 32 GB .* 20 GB were given; set volumeSizeGb to at least 32$/,
    );
    // 3B parameters per the Hub's metadata (none in the name): 6 GB of bf16 weights fit a LoRA run in 10 GB.
    const mystery = await s.newConfig("dep-disk", { modelName: "acme/mystery-model" });
    const small = await deploy("dep-disk", { trainingConfigId: mystery, volumeSizeGb: 5 });
    expect(small.errors?.[0].extensions).toMatchObject({
      field: "input.volumeSizeGb",
      neededGb: 8,
      givenGb: 5,
    });
    expect(small.errors?.[0].message).toContain("(3B parameters, per the Hub)");
    expect(creates()).toHaveLength(0);
    expect(await rowsOf("dep-disk")).toBe(0);

    expect((await deploy("dep-disk", { trainingConfigId: full, volumeSizeGb: 32 })).errors).toBeUndefined();
    expect((await deploy("dep-disk", { trainingConfigId: mystery, volumeSizeGb: 8 })).errors).toBeUndefined();
    // A model neither the Hub nor its name sizes is not checked.
    const unknown = await s.newConfig("dep-disk", { modelName: "acme/unsized", method: "FULL" });
    expect((await deploy("dep-disk", { trainingConfigId: unknown, volumeSizeGb: 1 })).errors).toBeUndefined();
  });

  it("mounts a network volume in its own data center, and refuses an unknown one", async () => {
    const apiKey = await s.withRunpodKey("dep-vol");
    const configId = await s.newConfig("dep-vol");
    const unknown = await deploy("dep-vol", {
      trainingConfigId: configId,
      output: { networkVolumeId: "nope0000" },
    });
    expect(unknown.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.output.networkVolumeId",
    });
    const volumes = await s.t.gateway.runpod.listNetworkVolumes(apiKey);
    s.sim.clearRequests();
    const res = await deploy("dep-vol", {
      trainingConfigId: configId,
      output: { networkVolumeId: volumes[0].id },
    });
    expect(res.errors).toBeUndefined();
    expect(creates()[0]).toMatchObject({
      networkVolumeId: volumes[0].id,
      dataCenterId: volumes[0].dataCenterId,
    });

    // /workspace is then the network volume: its size, not volumeSizeGb, must hold a FULL run of 8B.
    const full = await s.newConfig("dep-vol", { modelName: "meta-llama/Llama-3.1-8B", method: "FULL" });
    s.sim.clearRequests();
    const tooSmall = await deploy("dep-vol", {
      trainingConfigId: full,
      volumeSizeGb: 4000,
      output: { networkVolumeId: volumes[0].id },
    });
    expect(tooSmall.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.output.networkVolumeId",
      givenGb: volumes[0].sizeGb,
    });
    expect(tooSmall.errors?.[0].message).toContain(
      `network volume ${volumes[0].id} has ${volumes[0].sizeGb} GB`,
    );
    expect(creates()).toHaveLength(0);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["0 GPUs", { gpuCount: 0 }, "input.gpuCount"],
    ["9 GPUs", { gpuCount: 9 }, "input.gpuCount"],
    ["a zero budget", { budgetLimitUsd: 0 }, "input.budgetLimitUsd"],
    ["a negative budget", { budgetLimitUsd: -5 }, "input.budgetLimitUsd"],
    ["a zero max price", { maxPricePerHourUsd: 0 }, "input.maxPricePerHourUsd"],
    ["a lower-case env name", { env: [{ name: "path", value: "x" }] }, "input.env.0.name"],
    ["a reserved env name", { env: [{ name: "JOB_TOKEN", value: "x" }] }, "input.env.0.name"],
    ["a RunPod env name", { env: [{ name: "RUNPOD_API_KEY", value: "x" }] }, "input.env.0.name"],
    ["the GPU count's env name", { env: [{ name: "TRAINGATE_GPU_COUNT", value: "8" }] }, "input.env.0.name"],
    [
      "a repeated env name",
      {
        env: [
          { name: "A", value: "1" },
          { name: "A", value: "2" },
        ],
      },
      "input.env.1.name",
    ],
    ["an invalid image", { dockerImage: "Not An Image!" }, "input.dockerImage"],
    ["a zero volume", { volumeSizeGb: 0 }, "input.volumeSizeGb"],
    ["a tiny container disk", { containerDiskGb: 1 }, "input.containerDiskGb"],
    ["a zero max duration", { maxDurationMinutes: 0 }, "input.maxDurationMinutes"],
    ["a bad Hub repo id", { output: { hubRepoId: "no-owner" } }, "input.output.hubRepoId"],
    [
      "gateway false with nowhere else for the result",
      { output: { gateway: false } },
      "input.output.gateway",
    ],
    [
      "gateway false with nowhere else and onComplete TERMINATE",
      { output: { gateway: false, onComplete: "TERMINATE" } },
      "input.output.gateway",
    ],
  ])("refuses %s with BAD_USER_INPUT naming the field, creating nothing", async (_case, fields, field) => {
    await s.withRunpodKey("dep-invalid");
    const configId = await s.newConfig("dep-invalid");
    s.sim.clearRequests();
    const res = await deploy("dep-invalid", { trainingConfigId: configId, ...fields });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(creates()).toHaveLength(0);
    const rows = await s.t.gateway.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM cloud_deployments WHERE user_id = 'dep-invalid'`,
    );
    expect(rows[0].n).toBe(0);
  });
});

describe("stopDeployment and refreshDeployment", () => {
  const STOP = `mutation($id: ID!) { stopDeployment(id: $id) { status stopReason completedAt job { status completedAt } } }`;
  const REFRESH = `mutation($id: ID!) { refreshDeployment(id: $id) { status uptimeSeconds actualCostUsd startedAt } }`;

  it("pulls status, uptime and cost from upstream, then stops: pod terminated, job cancelled, event published", async () => {
    const apiKey = await s.withRunpodKey("stop-a");
    const configId = await s.newConfig("stop-a");
    const d = (await deploy("stop-a", { trainingConfigId: configId })).data!.deployTraining;

    s.sim.advance(600); // ten simulated minutes: the container is up and has run a while
    const refreshed = await s.t.gql<{
      refreshDeployment: { status: string; uptimeSeconds: number; actualCostUsd: number; startedAt: string };
    }>("stop-a", REFRESH, { id: d.id });
    expect(refreshed.data?.refreshDeployment.status).toBe("RUNNING");
    expect(refreshed.data?.refreshDeployment.uptimeSeconds).toBeGreaterThan(0);
    expect(refreshed.data?.refreshDeployment.actualCostUsd).toBeGreaterThan(0);

    let announced!: (event: unknown) => void;
    const published = new Promise((resolve) => (announced = resolve));
    const unlisten = await s.t.gateway.bus.listen(topics.deploymentUpdated(d.id), (e) => announced(e));
    const stopped = await s.t.gql<{
      stopDeployment: { status: string; stopReason: string; completedAt: string; job: { status: string } };
    }>("stop-a", STOP, { id: d.id });
    expect(stopped.data?.stopDeployment).toMatchObject({
      status: "STOPPED",
      stopReason: "USER",
      job: { status: "CANCELLED" },
    });
    expect(stopped.data?.stopDeployment.completedAt).toBeTruthy();
    expect(s.sim.pod(d.podId!)?.desiredStatus).toBe("TERMINATED");
    expect(await published).toEqual({ deploymentId: d.id, userId: "stop-a" });
    await unlisten();

    // Idempotent: a second stop changes nothing and calls nothing that fails.
    const again = await s.t.gql<{ stopDeployment: { status: string } }>("stop-a", STOP, { id: d.id });
    expect(again.data?.stopDeployment.status).toBe("STOPPED");
    expect(s.sim.pods(apiKey).filter((p) => p.desiredStatus !== "TERMINATED")).toEqual([]);
  });

  it("terminates the pod a completed run kept (onComplete STOP) and keeps the run COMPLETED", async () => {
    await s.withRunpodKey("stop-kept");
    const configId = await s.newConfig("stop-kept");
    const d = (await deploy("stop-kept", { trainingConfigId: configId, output: { onComplete: "STOP" } }))
      .data!.deployTraining;
    await s.t.gateway.services.deployments.signal(d.id, { type: "JOB_REPORTED", status: "completed" });
    const stopped = await s.t.gql<{
      stopDeployment: { status: string; stopReason: string; job: { status: string } };
    }>("stop-kept", STOP, { id: d.id });
    expect(stopped.data?.stopDeployment).toMatchObject({
      status: "COMPLETED",
      stopReason: "COMPLETED",
      job: { status: "COMPLETED" },
    });
    expect(s.sim.pod(d.podId!)?.desiredStatus).toBe("TERMINATED");
  });

  it("answers NOT_FOUND for another user's deployment and leaves its pod alone", async () => {
    await s.withRunpodKey("stop-owner");
    const configId = await s.newConfig("stop-owner");
    const d = (await deploy("stop-owner", { trainingConfigId: configId })).data!.deployTraining;
    const res = await s.t.gql("stop-intruder", STOP, { id: d.id });
    expect(res.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    expect(s.sim.pod(d.podId!)?.desiredStatus).toBe("RUNNING");
  });
});

describe("gpuTypes", () => {
  it("lists live offers with RunPod's exact ids and prices for the pod", async () => {
    const res = await s.t.gql<{
      gpuTypes: { gpuType: string; runpodGpuTypeId: string; pricePerHourUsd: number; available: boolean }[];
    }>(
      "offers",
      `{ gpuTypes(gpuCount: 2) { gpuType runpodGpuTypeId displayName memoryGb pricePerHourUsd spotPricePerHourUsd stockStatus available } }`,
    );
    expect(res.errors).toBeUndefined();
    const h100 = res.data!.gpuTypes.find((o) => o.gpuType === "H100_SXM");
    expect(h100?.runpodGpuTypeId).toBe("NVIDIA H100 80GB HBM3");
    const single = await s.t.gql<{ gpuTypes: { gpuType: string; pricePerHourUsd: number }[] }>(
      "offers",
      `{ gpuTypes { gpuType pricePerHourUsd } }`,
    );
    const one = single.data!.gpuTypes.find((o) => o.gpuType === "H100_SXM")!;
    expect(h100!.pricePerHourUsd).toBeCloseTo(one.pricePerHourUsd * 2, 4);
  });
});
