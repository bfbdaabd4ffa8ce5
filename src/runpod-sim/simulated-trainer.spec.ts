import { type RunpodSimulator, startRunpodSimulator } from "./runpod-simulator";
import type { MetricPoint } from "./simulated-trainer";
import {
  RESUME,
  STOP,
  TERMINATE,
  configB64,
  deployPod,
  gql,
  startFakeGateway,
  type FakeGateway,
} from "./testing/sim-test-helpers";

/** Every key of a metric point the pod callbacks take, in the contract's snake_case. */
const POINT_KEYS = [
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

const JOB_ID = "7b1c1a52-5a0e-4f4b-9d61-2f6f7f0f3a11";
const JOB_TOKEN = "job-token-abcdefghijklmnopqrstuvwxyz012345";

describe("simulated trainer", () => {
  let sim: RunpodSimulator;
  let gateway: FakeGateway;
  let key: string;

  /** A TrainGate-style pod: the env the deploy flow sets. */
  const deployTrainingPod = (
    config: unknown,
    extraEnv: Record<string, string> = {},
    over: Record<string, unknown> = {},
  ) =>
    deployPod(sim, key, {
      env: Object.entries({
        JOB_ID,
        JOB_TOKEN,
        METRICS_API_URL: gateway.metricsApiUrl,
        TRAINGATE_DEPLOYMENT_ID: "d1",
        TRAINGATE_CONFIG_B64: configB64(config),
        ...extraEnv,
      }).map(([k, value]) => ({ key: k, value })),
      ...over,
    });

  const metricCalls = (): MetricPoint[][] =>
    gateway.calls
      .filter((c) => c.path === `/api/training/jobs/${JOB_ID}/metrics`)
      .map((c) => (c.body as { metrics: MetricPoint[] }).metrics);
  const statusBodies = (): Record<string, unknown>[] =>
    gateway.calls
      .filter((c) => c.path === `/api/training/jobs/${JOB_ID}/status`)
      .map((c) => c.body as Record<string, unknown>);
  const until = (predicate: () => boolean, what: string): Promise<void> =>
    sim.waitFor(predicate, { timeoutMs: 30_000, what });

  beforeEach(async () => {
    gateway = await startFakeGateway();
  });

  afterEach(async () => {
    await sim.close();
    await gateway.close();
  });

  const start = async (
    trainer: Record<string, unknown>,
    speedFactor = 50,
    killGraceMs?: number,
  ): Promise<void> => {
    sim = await startRunpodSimulator({
      ...(killGraceMs === undefined ? {} : { killGraceMs }),
      speedFactor,
      startupSeconds: 2,
      restartSeconds: 1,
      tickMs: 20,
      trainer: { fixedPace: true, retryBaseMs: 5, ...trainer },
    });
    key = sim.addAccount().apiKey;
  };

  it("posts running, exact-shape metric batches and completed, then terminates its own pod", async () => {
    // 2 epochs x 20 steps, 2 steps per simulated second: 20 simulated seconds, 0.4 s real at 50x.
    await start({ stepsPerSecond: 2, stepsPerEpoch: 20 });
    const podId = await deployTrainingPod({
      hyperparameters: { epochs: 2, loggingSteps: 5, evalSplit: 0.1, saveSteps: 10, learningRate: 0.0002 },
      output: { onComplete: "TERMINATE" },
    });
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "the trainer to end its pod");

    expect(gateway.calls.every((c) => c.authorization === `Bearer ${JOB_TOKEN}`)).toBe(true);
    // No Hub, no volume: the result goes to the gateway (one PUT), before the completed report.
    const puts = gateway.calls.filter((c) => c.method === "PUT");
    expect(puts.map((c) => c.path)).toEqual([`/api/training/jobs/${JOB_ID}/artifact`]);
    expect(gateway.calls.filter((c) => c.method !== "PUT").every((c) => c.method === "POST")).toBe(true);
    expect(statusBodies()).toEqual([
      { status: "running" },
      { status: "completed", artifact_uri: `gateway://${JOB_ID}` },
    ]);
    expect(gateway.calls[0]?.path).toBe(`/api/training/jobs/${JOB_ID}/status`);
    expect(gateway.calls.at(-1)?.path).toBe(`/api/training/jobs/${JOB_ID}/status`);

    const batches = metricCalls();
    expect(batches.length).toBeGreaterThan(0);
    const points = batches.flat();
    expect(points.map((p) => p.step)).toEqual([5, 10, 15, 20, 25, 30, 35, 40]);
    for (const point of points) {
      expect(Object.keys(point).sort()).toEqual(POINT_KEYS);
      expect(point.gpu_memory_allocated_gb).toBeGreaterThan(0);
      expect(point.gpu_memory_allocated_gb).toBeLessThanOrEqual(point.gpu_memory_reserved_gb);
      expect(point.gpu_memory_reserved_gb).toBeLessThan(16); // RTX A4000
      expect(point.gpu_utilization_percent).toBeGreaterThanOrEqual(90);
      // ETA: elapsed + remaining is the whole run (20 simulated seconds), give or take rounding.
      expect(Math.abs(point.elapsed_seconds + point.remaining_seconds - 20)).toBeLessThanOrEqual(1);
    }
    const first = points[0];
    const last = points.at(-1);
    expect(first?.loss).toBeGreaterThan(last?.loss ?? Infinity);
    expect(last).toMatchObject({
      step: 40,
      epoch: 2,
      progress: 100,
      remaining_seconds: 0,
      elapsed_seconds: 20,
    });
    expect(last?.learning_rate).toBeLessThan(0.00001); // cosine decay to ~0
    expect(Math.max(...points.map((p) => p.learning_rate))).toBeLessThanOrEqual(0.0002);
    expect(points.filter((p) => p.eval_loss !== null).map((p) => p.step)).toEqual([20, 40]);

    expect(sim.pod(podId)).toMatchObject({
      endReason: "Terminated by pod",
      trainingCompleted: true,
      checkpointStep: 40,
    });
    expect(sim.restRequests).toEqual([
      expect.objectContaining({ method: "DELETE", auth: "pod-key", status: 204, podId }),
    ]);
  });

  it("stops (not terminates) its pod for onComplete STOP, reporting the Hub artifact, and idles on resume", async () => {
    await start({ stepsPerSecond: 5, totalSteps: 20 });
    const podId = await deployTrainingPod({
      hyperparameters: { loggingSteps: 10 },
      output: { onComplete: "STOP", hubRepoId: "acme/llama-lora" },
    });
    await until(() => sim.pod(podId)?.desiredStatus === "EXITED", "the trainer to stop its pod");
    expect(statusBodies().at(-1)).toEqual({ status: "completed", artifact_uri: "hf://acme/llama-lora" });
    expect(sim.restRequests).toEqual([
      expect.objectContaining({ method: "POST", path: `/v1/pods/${podId}/stop` }),
    ]);

    const calls = gateway.calls.length;
    await gql(sim, RESUME, { podId }, { key });
    await until(() => sim.pod(podId)?.trainer?.phase === "idle", "a resumed, finished pod to idle");
    sim.advance(600);
    expect(gateway.calls).toHaveLength(calls);
    expect(sim.pod(podId)?.desiredStatus).toBe("RUNNING");
  });

  it("defaults onComplete to TERMINATE for a network-volume output and reports runpod-volume://", async () => {
    await start({ stepsPerSecond: 5, totalSteps: 10 });
    const podId = await deployTrainingPod({ output: { networkVolumeId: "vol123abc" } });
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "terminate");
    expect(statusBodies().at(-1)).toEqual({
      status: "completed",
      artifact_uri: "runpod-volume://vol123abc/output",
    });
  });

  it("honours stop: true: reports stopped, posts no more metrics, ends its pod", async () => {
    // 1000 steps at 1 step per simulated second, 20x: 50 s real to finish, so the stop comes first.
    await start({ stepsPerSecond: 1, totalSteps: 1000 }, 20);
    let stopSent = false;
    gateway.respond = (call) => {
      if (call.path.endsWith("/metrics")) {
        stopSent = true;
        return { status: 200, body: { status: "ok", accepted: 1, stop: true } };
      }
      return { status: 200, body: { status: "ok", stop: false } };
    };
    const podId = await deployTrainingPod({
      hyperparameters: { loggingSteps: 1 },
      output: { onComplete: "TERMINATE" },
    });
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "the stopped trainer to end its pod");
    expect(stopSent).toBe(true);
    const paths = gateway.calls.map((c) => c.path.split("/").at(-1));
    expect(paths.filter((p) => p === "metrics")).toHaveLength(1);
    expect(statusBodies()).toEqual([
      { status: "running" },
      // A stopped run delivers its partial result as well.
      { status: "stopped", message: "stop requested by the gateway", artifact_uri: `gateway://${JOB_ID}` },
    ]);
    expect(paths.filter((p) => p === "artifact")).toHaveLength(1);
    expect(paths.at(-1)).toBe("status");
    expect(sim.pod(podId)?.trainer).toBeNull();
    expect(sim.pod(podId)?.trainingCompleted).toBe(false);
  });

  it("stops by itself at BUDGET_DEADLINE", async () => {
    await start({ stepsPerSecond: 1, totalSteps: 100_000 }, 50);
    // 30 seconds of pod time from now: 0.6 s real at 50x.
    const deadline = new Date(Date.now() + 30_000).toISOString();
    const podId = await deployTrainingPod(
      { output: { onComplete: "TERMINATE" } },
      { BUDGET_DEADLINE: deadline },
    );
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "the deadline stop");
    expect(statusBodies().at(-1)).toEqual({
      status: "stopped",
      message: "budget deadline reached",
      // The trainer's own decision, said so that the gateway records why.
      reason: "budget_deadline",
      artifact_uri: `gateway://${JOB_ID}`,
    });
    const steps = metricCalls()
      .flat()
      .map((p) => p.step);
    expect(Math.max(...steps)).toBeLessThan(100);
  });

  it.each([
    ["podStop", STOP, "EXITED"],
    ["podTerminate", TERMINATE, "TERMINATED"],
  ] as const)(
    "on %s gets SIGTERM: the pod ends at once, the trainer checkpoints, uploads its partial result and reports stopped",
    async (_mutation, document, endStatus) => {
      // 1000 steps at 2 steps per simulated second, 20x: 25 s real to finish, so the stop comes first.
      await start({ stepsPerSecond: 2, totalSteps: 1000 }, 20);
      const podId = await deployTrainingPod({
        hyperparameters: { loggingSteps: 5, saveSteps: 1000 },
        output: { onComplete: "TERMINATE" },
      });
      await until(() => metricCalls().flat().length >= 2, "training to be under way");
      const answer = await gql(sim, document, { podId }, { key });
      expect(answer.body.errors).toBeUndefined();
      // RunPod shows the pod ended at once, and it bills no more, whatever the container still does.
      expect(sim.pod(podId)).toMatchObject({ desiredStatus: endStatus, costPerHr: 0, runtimeUp: false });
      const cost = sim.pod(podId)?.accruedCostUsd;

      await until(() => statusBodies().some((b) => b.status === "stopped"), "the stopped report");
      expect(statusBodies()).toEqual([
        { status: "running" },
        {
          status: "stopped",
          message: "received SIGTERM; checkpoint saved",
          artifact_uri: `gateway://${JOB_ID}`,
        },
      ]);
      const paths = gateway.calls.map((c) => c.path.split("/").at(-1));
      expect(paths.filter((p) => p === "artifact")).toHaveLength(1);
      expect(paths.at(-1)).toBe("status");
      // The checkpoint is the step it was stopped at, off the saveSteps grid; the points up to it were sent.
      const stoppedAt = sim.pod(podId)?.checkpointStep ?? 0;
      expect(stoppedAt).toBeGreaterThan(0);
      expect(stoppedAt).toBeLessThan(1000);
      const lastPoint = Math.max(
        ...metricCalls()
          .flat()
          .map((p) => p.step),
      );
      expect(lastPoint).toBe(Math.floor(stoppedAt / 5) * 5);
      expect(sim.pod(podId)?.trainingCompleted).toBe(false);
      // Whoever sent SIGTERM ends the pod: the trainer does not call RunPod itself.
      await until(() => sim.pod(podId)?.trainer === null, "the container to be gone");
      expect(sim.restRequests).toEqual([]);
      expect(sim.pod(podId)?.accruedCostUsd).toBe(cost);
    },
  );

  it("is killed when the grace period after SIGTERM runs out, mid-upload", async () => {
    await start({ stepsPerSecond: 2, totalSteps: 1000, retries: 1000 }, 20, 300);
    // The gateway cannot take the result: the upload is retried until the kill.
    gateway.respond = (call) =>
      call.method === "PUT"
        ? { status: 503, body: { error: "busy" } }
        : { status: 200, body: { status: "ok", accepted: 1, stop: false } };
    const podId = await deployTrainingPod({
      hyperparameters: { loggingSteps: 5 },
      output: { onComplete: "TERMINATE" },
    });
    await until(() => metricCalls().length >= 1, "training to be under way");
    await gql(sim, TERMINATE, { podId }, { key });
    expect(sim.pod(podId)?.desiredStatus).toBe("TERMINATED");
    expect(sim.pod(podId)?.trainer?.phase).toBe("finishing");
    await until(() => sim.pod(podId)?.trainer === null, "the kill at the end of the grace period");
    const calls = gateway.calls.length;
    expect(gateway.calls.filter((c) => c.method === "PUT").length).toBeGreaterThanOrEqual(1);
    // Killed before its upload went through: no stopped report, and nothing more once it is gone.
    expect(statusBodies()).toEqual([{ status: "running" }]);
    sim.advance(60);
    expect(gateway.calls).toHaveLength(calls);
  });

  it("keeps the pod lifecycle going when the gateway's routes are missing", async () => {
    await start({ stepsPerSecond: 5, totalSteps: 30, retries: 2 });
    gateway.respond = () => ({ status: 404, body: { error: "not found" } });
    const podId = await deployTrainingPod({
      hyperparameters: { loggingSteps: 10 },
      output: { onComplete: "TERMINATE" },
    });
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "terminate despite a missing gateway");
    // Every callback was tried 1 + 2 times, then dropped.
    expect(gateway.calls.length % 3).toBe(0);
    expect(gateway.calls.length).toBeGreaterThanOrEqual(9);
  });

  it("keeps the pod lifecycle going when the gateway cannot be reached at all", async () => {
    await start({ stepsPerSecond: 5, totalSteps: 10, retries: 1 });
    const url = gateway.metricsApiUrl;
    await gateway.close();
    const podId = await deployPod(sim, key, {
      env: [
        { key: "JOB_ID", value: JOB_ID },
        { key: "JOB_TOKEN", value: JOB_TOKEN },
        { key: "METRICS_API_URL", value: url },
        { key: "TRAINGATE_CONFIG_B64", value: configB64({ output: { onComplete: "TERMINATE" } }) },
      ],
    });
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "terminate despite no gateway");
    gateway = await startFakeGateway(); // for afterEach
  });

  it("idles like a plain container without METRICS_API_URL", async () => {
    await start({ stepsPerSecond: 5, totalSteps: 10 });
    const podId = await deployPod(sim, key, { env: [{ key: "FOO", value: "bar" }] });
    await until(() => sim.pod(podId)?.trainer?.phase === "idle", "the trainer to idle");
    sim.advance(3600);
    expect(sim.pod(podId)).toMatchObject({ desiredStatus: "RUNNING", restartCount: 0 });
    expect(gateway.calls).toHaveLength(0);
  });

  it("resumes from its last checkpoint after a container restart", async () => {
    await start({ stepsPerSecond: 1, totalSteps: 60 }, 20);
    const podId = await deployTrainingPod({
      hyperparameters: { loggingSteps: 5, saveSteps: 10 },
      output: { onComplete: "TERMINATE" },
    });
    await until(() => (sim.pod(podId)?.checkpointStep ?? 0) >= 20, "a checkpoint at step 20");
    const checkpoint = sim.pod(podId)?.checkpointStep ?? 0;
    sim.exitContainer(podId);
    expect(sim.pod(podId)).toMatchObject({ desiredStatus: "RUNNING", restartCount: 1, runtimeUp: false });
    await until(() => sim.pod(podId)?.desiredStatus === "TERMINATED", "the restarted trainer to finish");

    expect(statusBodies().filter((b) => b.status === "running")).toHaveLength(2);
    const runningAt = gateway.calls.flatMap((c, i) =>
      (c.body as { status?: string } | null)?.status === "running" ? [i] : [],
    );
    const secondRunning = runningAt[1] ?? -1;
    const resumedSteps = gateway.calls
      .slice(secondRunning)
      .flatMap((c) => (c.body as { metrics?: MetricPoint[] } | null)?.metrics ?? [])
      .map((p) => p.step);
    expect(resumedSteps[0]).toBeLessThanOrEqual(checkpoint + 5);
    expect(resumedSteps[0]).toBeGreaterThan(checkpoint - 5);
    expect(resumedSteps.at(-1)).toBe(60);
  });
});
