import { hashJobToken } from "../src/auth/job-token";
import { topics } from "../src/pubsub/topics";
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

let s: SimulatedSetup;
beforeAll(async () => {
  s = await startSimulatedGateway();
});
afterAll(() => s.close());

/** The create calls the simulator received, in order. */
const creates = () =>
  s.sim.requests
    .filter((r) => r.fields.includes("podFindAndDeployOnDemand"))
    .map((r) => (r.variables as { input: Record<string, unknown> }).input);

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
    });
    const env = Object.fromEntries(
      (input.env as { key: string; value: string }[]).map((e) => [e.key, e.value]),
    );
    expect(env).toMatchObject({
      JOB_ID: d.job.id,
      METRICS_API_URL: `${s.t.gateway.config.publicUrl}/api/training/jobs`,
      TRAINGATE_DEPLOYMENT_ID: d.id,
      WANDB_PROJECT: "tg 'quoted' $(x)",
    });
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
    expect(res.errors?.[0].extensions?.code).toBe("GPU_UNAVAILABLE");
    expect(res.errors?.[0].message).toMatch(/above maxPricePerHourUsd/);
    expect(s.sim.pods(apiKey)).toEqual([]);
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
    expect(res.errors?.[0].extensions).toMatchObject({
      code: "BUDGET_EXCEEDED",
      field: "input.budgetLimitUsd",
    });
    expect(res.errors?.[0].message).toMatch(
      /budgetLimitUsd \$1 pays for less than 10 minutes: H200 x8 costs \$[\d.]+\/h/,
    );
    expect(s.sim.pods(apiKey)).toEqual([]);
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
      onComplete: "TERMINATE",
    });
    expect(JSON.stringify(res) + s.t.logs.text).not.toContain("hf_hubtokenhubtoken1234");
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
    const d = (await deploy("stop-kept", { trainingConfigId: configId })).data!.deployTraining;
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
