import { inspect } from "node:util";
import { AppError, ErrorCode } from "../../errors/app-error";
import type { RunpodSimulator } from "../../runpod-sim/runpod-simulator";
import { CloudType, GpuType } from "../gpu-catalogue";
import { type PodInfo, type PodSpec, PodStatus, type RunpodClient } from "../runpod-client";

/** What the contract suite needs from an implementation under test. */
export interface RunpodClientContractHarness {
  /** The simulator the client talks to over real HTTP. */
  readonly sim: RunpodSimulator;
  /** A key of a registered simulator account. */
  readonly apiKey: string;
  /** A client with a generous timeout (seconds) and fast retries (a few ms of backoff). */
  readonly client: RunpodClient;
  /** A client like `client` but whose per-attempt timeout is `timeoutMs`. */
  clientWithTimeout(timeoutMs: number): RunpodClient;
  /** Extra attempts the clients make on retried operations. */
  readonly retries: number;
  /** Every log line the clients wrote so far, serialised. */
  logLines(): readonly string[];
  close(): Promise<void>;
}

/** Awaits a promise that must reject with an AppError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error: unknown) {
    if (error instanceof AppError) return error;
    throw new Error(`expected an AppError, got ${inspect(error)}`, { cause: error });
  }
  throw new Error("expected a rejection, but the promise resolved");
}

/** Every way an error can be turned into text somewhere (logs, GraphQL formatting, error trackers). */
export function renderings(error: unknown): string[] {
  const e = error as Error;
  return [
    JSON.stringify(error),
    JSON.stringify(Object.fromEntries(Object.entries(error as object))),
    String(error),
    e.stack ?? "",
    e.message,
    inspect(error, { depth: 10, showHidden: true }),
  ];
}

const JOB_TOKEN = "jt_contract_SECRET_job_token_value_0123456789";

const baseSpec = (name: string, over: Partial<PodSpec> = {}): PodSpec => ({
  name,
  gpuType: GpuType.RTX_A4000,
  gpuCount: 1,
  cloudType: CloudType.SECURE,
  imageName: "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
  dockerArgs: "bash -c 'echo \"$TRAINGATE_BOOTSTRAP_B64\" | base64 -d | bash'",
  env: { JOB_ID: "job-1", JOB_TOKEN, TRAINGATE_DEPLOYMENT_ID: name },
  volumeInGb: 20,
  containerDiskInGb: 20,
  volumeMountPath: "/workspace",
  ...over,
});

let names = 0;
const uniqueName = (): string => `traingate-contract-${process.pid}-${++names}`;

/**
 * The behaviour every {@link RunpodClient} implementation must show, run against the RunPod simulator over real
 * HTTP. `makeHarness` is called once; the simulator's faults and request log are reset before each test.
 */
export function describeRunpodClientContract(
  implementation: string,
  makeHarness: () => Promise<RunpodClientContractHarness>,
): void {
  describe(`RunpodClient contract: ${implementation}`, () => {
    let h: RunpodClientContractHarness;
    const created: string[] = [];

    const create = async (over: Partial<PodSpec> = {}): Promise<PodInfo> => {
      const pod = await h.client.createPod(h.apiKey, baseSpec(uniqueName(), over));
      created.push(pod.id);
      return pod;
    };
    const requestsFor = (operationField: string): number =>
      h.sim.requests.filter((r) => r.fields.includes(operationField)).length;

    beforeAll(async () => {
      h = await makeHarness();
    });

    afterAll(async () => {
      // Leave nothing running (this also exercises terminate on pods already gone), then stop the simulator.
      for (const id of created) await h.client.terminatePod(h.apiKey, id).catch(() => undefined);
      await h.close();
    });

    beforeEach(() => {
      h.sim.faults.reset();
      h.sim.clearRequests();
    });

    it("creates a pod, sending RunPod's exact gpuTypeId, the env and terminateAfter as variables", async () => {
      const terminateAfter = new Date(Date.now() + 3 * 3600_000);
      const tricky = 'quote " backslash \\ newline \n dollar ${HOME} equals a=b';
      const name = uniqueName();
      const pod = await h.client.createPod(
        h.apiKey,
        baseSpec(name, {
          gpuType: GpuType.H100_SXM,
          env: { JOB_ID: "job-1", JOB_TOKEN, TRICKY: tricky },
          terminateAfter,
          ports: ["8888/http", "22/tcp"],
        }),
      );
      created.push(pod.id);

      expect(pod.id).toMatch(/^[a-z0-9]{14}$/);
      expect(pod).toMatchObject({
        name,
        status: PodStatus.STARTING,
        desiredStatus: "RUNNING",
        runtimeUp: false,
        gpuCount: 1,
        gpuType: GpuType.H100_SXM,
      });
      // The env is never read back: it would carry the job token (and the trainer bundle) on every poll.
      expect(pod).not.toHaveProperty("env");
      expect(JSON.stringify(pod)).not.toContain(JOB_TOKEN);
      expect(pod.costPerHr).toBeGreaterThan(0);

      const sent = h.sim.requests.filter((r) => r.fields.includes("podFindAndDeployOnDemand"));
      expect(sent).toHaveLength(1);
      const input = (sent[0]?.variables as { input: Record<string, unknown> }).input;
      expect(input.gpuTypeId).toBe("NVIDIA H100 80GB HBM3");
      expect(input.cloudType).toBe("SECURE");
      expect(input.terminateAfter).toBe(terminateAfter.toISOString());
      // The image is built for CUDA 12.4: only hosts whose driver supports it.
      expect(input.minCudaVersion).toBe("12.4");
      expect(input.allowedCudaVersions).toContain("12.4");
      expect(input.allowedCudaVersions).not.toContain("12.3");
      expect(input.env).toEqual([
        { key: "JOB_ID", value: "job-1" },
        { key: "JOB_TOKEN", value: JOB_TOKEN },
        { key: "TRICKY", value: tricky },
      ]);
      expect(sent[0]).toMatchObject({ keyPresent: true, status: 200 });
      expect(sent[0]?.accountId).not.toBeNull();
      expect(h.sim.pod(pod.id)).toMatchObject({
        gpuTypeId: "NVIDIA H100 80GB HBM3",
        desiredStatus: "RUNNING",
      });
    });

    it("gets a pod: STARTING until the container is up, then RUNNING", async () => {
      const pod = await create();
      expect((await h.client.getPod(h.apiKey, pod.id))?.status).toBe(PodStatus.STARTING);
      h.sim.advance(3600);
      const running = await h.client.getPod(h.apiKey, pod.id);
      expect(running).toMatchObject({ id: pod.id, status: PodStatus.RUNNING, runtimeUp: true });
      expect(running?.uptimeSeconds).toBeGreaterThanOrEqual(3600);
    });

    it("answers null for an unknown pod and for another account's pod", async () => {
      const pod = await create();
      const other = h.sim.addAccount();
      expect(await h.client.getPod(h.apiKey, "zzzzzzzzzzzzzz")).toBeNull();
      expect(await h.client.getPod(other.apiKey, pod.id)).toBeNull();
      expect((await h.client.listPods(other.apiKey)).map((p) => p.id)).not.toContain(pod.id);
    });

    it("lists the account's pods", async () => {
      const a = await create();
      const b = await create();
      const ids = (await h.client.listPods(h.apiKey)).map((p) => p.id);
      expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    });

    it("stops and resumes a pod", async () => {
      const pod = await create();
      await h.client.stopPod(h.apiKey, pod.id);
      const stopped = await h.client.getPod(h.apiKey, pod.id);
      expect(stopped).toMatchObject({ status: PodStatus.STOPPED, desiredStatus: "EXITED", costPerHr: 0 });
      await h.client.stopPod(h.apiKey, pod.id); // stopping a stopped pod is harmless
      const resumed = await h.client.resumePod(h.apiKey, pod.id, 1);
      expect(resumed.desiredStatus).toBe("RUNNING");
      expect(resumed.costPerHr).toBe(pod.costPerHr);
    });

    it("answers NOT_FOUND when stopping or resuming an unknown pod", async () => {
      expect((await rejection(h.client.stopPod(h.apiKey, "zzzzzzzzzzzzzz"))).code).toBe(ErrorCode.NOT_FOUND);
      expect((await rejection(h.client.resumePod(h.apiKey, "zzzzzzzzzzzzzz", 1))).code).toBe(
        ErrorCode.NOT_FOUND,
      );
    });

    it("terminates idempotently: a second terminate is success", async () => {
      const pod = await create();
      await h.client.terminatePod(h.apiKey, pod.id);
      await h.client.terminatePod(h.apiKey, pod.id);
      expect(await h.client.getPod(h.apiKey, pod.id)).toBeNull();
      expect((await h.client.listPods(h.apiKey)).map((p) => p.id)).not.toContain(pod.id);
      expect(h.sim.pod(pod.id)?.desiredStatus).toBe("TERMINATED");
    });

    it("reports no capacity as GPU_UNAVAILABLE, quoting RunPod, creating nothing, asking once", async () => {
      h.sim.faults.noCapacity("NVIDIA RTX A4000");
      const before = h.sim.pods(h.apiKey).length;
      const error = await rejection(h.client.createPod(h.apiKey, baseSpec(uniqueName())));
      expect(error.code).toBe(ErrorCode.GPU_UNAVAILABLE);
      expect(error.message).toContain("There are no longer any instances available");
      expect(h.sim.pods(h.apiKey)).toHaveLength(before);
      expect(requestsFor("podFindAndDeployOnDemand")).toBe(1);
      // Another GPU type still deploys.
      await create({ gpuType: GpuType.RTX_A5000 });
    });

    it("reports a refused key as UPSTREAM_AUTH_FAILED without retrying", async () => {
      const unknownKey = "rpa_UNKNOWNKEYUNKNOWNKEYUNKNOWNKEY0000000000";
      const error = await rejection(h.client.listPods(unknownKey));
      expect(error.code).toBe(ErrorCode.UPSTREAM_AUTH_FAILED);
      expect(error.message).toBe("RunPod rejected the API key");
      expect(requestsFor("myself")).toBe(1);

      h.sim.faults.forceUnauthorized();
      expect((await rejection(h.client.getPod(h.apiKey, "zzzzzzzzzzzzzz"))).code).toBe(
        ErrorCode.UPSTREAM_AUTH_FAILED,
      );
      expect((await rejection(h.client.createPod(h.apiKey, baseSpec(uniqueName())))).code).toBe(
        ErrorCode.UPSTREAM_AUTH_FAILED,
      );
    });

    it("retries reads through 5xx answers", async () => {
      h.sim.faults.failNext(h.retries, { status: 502 });
      expect(Array.isArray(await h.client.listPods(h.apiKey))).toBe(true);
      expect(requestsFor("myself")).toBe(h.retries + 1);
    });

    it("retries terminate and stop through 5xx answers", async () => {
      const pod = await create();
      h.sim.clearRequests();
      h.sim.faults.failNext(1, { field: "podStop" });
      await h.client.stopPod(h.apiKey, pod.id);
      h.sim.faults.failNext(1, { field: "podTerminate" });
      await h.client.terminatePod(h.apiKey, pod.id);
      expect(requestsFor("podStop")).toBe(2);
      expect(requestsFor("podTerminate")).toBe(2);
      expect(h.sim.pod(pod.id)?.desiredStatus).toBe("TERMINATED");
    });

    it("retries RunPod's 'Something went wrong' on reads", async () => {
      const pod = await create();
      h.sim.clearRequests();
      h.sim.faults.graphqlErrorNext(1);
      expect((await h.client.getPod(h.apiKey, pod.id))?.id).toBe(pod.id);
      expect(requestsFor("pod")).toBe(2);
    });

    it("gives up after the retries with UPSTREAM_UNAVAILABLE", async () => {
      h.sim.faults.failNext(h.retries + 5, { status: 503 });
      const error = await rejection(h.client.listNetworkVolumes(h.apiKey));
      expect(error.code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
      expect(requestsFor("myself")).toBe(h.retries + 1);
    });

    it("never retries a create after a 5xx, and says the outcome is unknown", async () => {
      h.sim.faults.failNext(1, { status: 500, field: "podFindAndDeployOnDemand" });
      const before = h.sim.pods(h.apiKey).length;
      const error = await rejection(h.client.createPod(h.apiKey, baseSpec(uniqueName())));
      expect(error.code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
      expect(error.details.outcomeUnknown).toBe(true);
      expect(requestsFor("podFindAndDeployOnDemand")).toBe(1);
      expect(h.sim.pods(h.apiKey)).toHaveLength(before);
    });

    it("times out a slow read with UPSTREAM_UNAVAILABLE after its retries", async () => {
      const client = h.clientWithTimeout(200);
      h.sim.faults.delay(1500, { field: "pod", count: h.retries + 1 });
      const started = Date.now();
      const error = await rejection(client.getPod(h.apiKey, "zzzzzzzzzzzzzz"));
      expect(error.code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
      expect(error.message).toContain("did not answer");
      expect(Date.now() - started).toBeLessThan(1500 * (h.retries + 1));
      // The simulator still answers the abandoned requests; wait for them so later tests see a clean log.
      await h.sim.waitFor(() => requestsFor("pod") === h.retries + 1, {
        timeoutMs: 20_000,
        what: "delayed reads",
      });
    });

    it("times out a slow create once; the pod may exist and is found again by name", async () => {
      const client = h.clientWithTimeout(200);
      h.sim.faults.delay(1000, { field: "podFindAndDeployOnDemand", count: 1 });
      const name = uniqueName();
      const error = await rejection(client.createPod(h.apiKey, baseSpec(name)));
      expect(error.code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
      expect(error.details.outcomeUnknown).toBe(true);
      await h.sim.waitFor(() => requestsFor("podFindAndDeployOnDemand") === 1, { timeoutMs: 20_000 });
      const found = (await h.client.listPods(h.apiKey)).find((p) => p.name === name);
      expect(found).toBeDefined();
      if (found) await h.client.terminatePod(h.apiKey, found.id);
    });

    it("lists GPU offers anonymously: only TrainGate's types, whole-pod prices, availability", async () => {
      h.sim.setStock("NVIDIA L40", "None");
      const one = await h.client.listGpuOffers(undefined, { cloudType: CloudType.SECURE, gpuCount: 1 });
      const two = await h.client.listGpuOffers(undefined, { cloudType: CloudType.SECURE, gpuCount: 2 });
      expect(one.map((o) => o.gpuType).sort()).toEqual(Object.values(GpuType).sort());
      const a4000 = one.find((o) => o.gpuType === GpuType.RTX_A4000);
      const a4000x2 = two.find((o) => o.gpuType === GpuType.RTX_A4000);
      expect(a4000).toMatchObject({ runpodGpuTypeId: "NVIDIA RTX A4000", memoryGb: 16, available: true });
      expect(a4000?.pricePerHourUsd).toBeGreaterThan(0);
      expect(a4000x2?.pricePerHourUsd).toBeCloseTo(2 * (a4000?.pricePerHourUsd ?? 0), 4);
      expect(one.find((o) => o.gpuType === GpuType.L40)).toMatchObject({
        stockStatus: "None",
        available: false,
      });
      const record = h.sim.requests.find((r) => r.fields.includes("gpuTypes"));
      expect(record?.keyPresent).toBe(false);
      h.sim.setStock("NVIDIA L40", "Low");
    });

    it("lists the account's network volumes and deploys into a volume's data center", async () => {
      const volumes = await h.client.listNetworkVolumes(h.apiKey);
      expect(volumes.length).toBeGreaterThan(0);
      const volume = volumes[0];
      if (volume === undefined) return;
      expect(volume.dataCenterId).toMatch(/^[A-Z]+-[A-Z]+-\d+$/);
      const pod = await create({
        networkVolumeId: volume.id,
        dataCenterId: volume.dataCenterId ?? undefined,
      });
      expect(h.sim.pod(pod.id)).toMatchObject({
        networkVolumeId: volume.id,
        dataCenterId: volume.dataCenterId,
      });

      h.sim.clearRequests();
      const error = await rejection(
        h.client.createPod(h.apiKey, baseSpec(uniqueName(), { networkVolumeId: volume.id })),
      );
      // The volume's data center is the caller's to give (deployments/ looks it up once, for its own check).
      expect(error).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, details: { field: "dataCenterId" } });
      expect(requestsFor("podFindAndDeployOnDemand")).toBe(0);
    });

    it("refuses a spec that cannot be valid, before calling RunPod", async () => {
      const invalid: Partial<PodSpec>[] = [
        { gpuCount: 0 },
        { gpuCount: 9 },
        { ports: ["8888"] },
        { env: { "BAD=KEY": "x" } },
        { gpuType: "AMPERE_16" as GpuType },
        { cloudType: "ALL" as CloudType },
        { terminateAfter: new Date(Number.NaN) },
      ];
      for (const over of invalid) {
        expect((await rejection(h.client.createPod(h.apiKey, baseSpec(uniqueName(), over)))).code).toBe(
          ErrorCode.BAD_USER_INPUT,
        );
      }
      expect(requestsFor("podFindAndDeployOnDemand")).toBe(0);
    });

    it("never lets the API key or the job token out in errors or logs", async () => {
      const key = h.apiKey;
      const errors: unknown[] = [];
      const capture = async (p: Promise<unknown>): Promise<void> => {
        errors.push(await rejection(p));
      };
      h.sim.faults.forceUnauthorized();
      await capture(h.client.createPod(key, baseSpec(uniqueName())));
      h.sim.faults.reset();
      h.sim.faults.failNext(1, { field: "podFindAndDeployOnDemand" });
      await capture(h.client.createPod(key, baseSpec(uniqueName())));
      h.sim.faults.noCapacity();
      await capture(h.client.createPod(key, baseSpec(uniqueName())));
      h.sim.faults.reset();
      // An upstream message that echoes the key and the token.
      h.sim.faults.graphqlErrorNext(1, {
        message: `bad request from ${key} with ${JOB_TOKEN}`,
        code: "WEIRD",
      });
      await capture(h.client.createPod(key, baseSpec(uniqueName())));
      h.sim.faults.failNext(h.retries + 1);
      await capture(h.client.listPods(key));
      h.sim.faults.delay(800, { count: 1, field: "podFindAndDeployOnDemand" });
      await capture(h.clientWithTimeout(100).createPod(key, baseSpec(uniqueName())));
      await capture(h.client.listPods(`${key}X`));
      await capture(h.client.listPods("rpa_bad key with spaces\n"));
      await h.sim.waitFor(() => requestsFor("podFindAndDeployOnDemand") >= 5, { timeoutMs: 20_000 });

      expect(errors.length).toBe(8);
      for (const error of errors) {
        for (const text of renderings(error)) {
          expect(text).not.toContain(key);
          expect(text).not.toContain(JOB_TOKEN);
        }
      }
      const logs = h.logLines().join("\n");
      expect(logs).not.toContain(key);
      expect(logs).not.toContain(JOB_TOKEN);
    });
  });
}
