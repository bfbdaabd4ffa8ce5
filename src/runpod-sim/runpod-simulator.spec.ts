import { requestJson } from "./sim-http";
import {
  NO_CAPACITY_MESSAGE,
  NO_CAPACITY_SPOT_MESSAGE,
  type RunpodSimulator,
  SOMETHING_WENT_WRONG,
  startRunpodSimulator,
} from "./runpod-simulator";
import {
  CREATE,
  GET,
  RESUME,
  STOP,
  TERMINATE,
  createInput,
  deployPod,
  gql,
} from "./testing/sim-test-helpers";

type Pod = {
  id: string;
  desiredStatus: string;
  costPerHr: number;
  uptimeSeconds: number;
  env: string[];
  runtime: { uptimeInSeconds: number; ports: { privatePort: number; type: string }[] } | null;
  machine: { podHostId: string; gpuDisplayName: string };
  podType: string;
};

describe("RunPod simulator (GraphQL)", () => {
  let sim: RunpodSimulator;
  let key: string;
  let accountId: string;

  const getPod = async (podId: string, k = key): Promise<Pod | null> =>
    ((await gql(sim, GET, { podId }, { key: k })).body.data?.pod as Pod | null) ?? null;

  beforeAll(async () => {
    sim = await startRunpodSimulator({ trainer: false, autoAccountPrefix: null, startupSeconds: 10 });
    ({ apiKey: key, accountId } = sim.addAccount());
  });

  afterAll(async () => {
    await sim.close();
  });

  beforeEach(() => {
    sim.faults.reset();
    sim.clearRequests();
  });

  describe("authentication", () => {
    it("answers 401 Unauthorized for a missing key, except on gpuTypes", async () => {
      const myself = await gql(sim, "{ myself { id } }");
      expect(myself).toEqual({ status: 401, body: { errors: [{ message: "Unauthorized" }] } });
      const gpuTypes = await gql(sim, "{ gpuTypes { id } }");
      expect(gpuTypes.status).toBe(200);
    });

    it("answers 401 for an unknown key, even on gpuTypes", async () => {
      expect((await gql(sim, "{ gpuTypes { id } }", {}, { key: "rpa_NOPE" })).status).toBe(401);
    });

    it("accepts the key as a Bearer header or as ?api_key=", async () => {
      const viaHeader = await gql(sim, "{ myself { id } }", {}, { key });
      const viaQuery = await gql(sim, "{ myself { id } }", {}, { key, via: "query" });
      expect(viaHeader.body.data).toEqual({ myself: { id: accountId } });
      expect(viaQuery.body.data).toEqual({ myself: { id: accountId } });
      expect(sim.requests.map((r) => r.keySource)).toEqual(["header", "query"]);
    });

    it("auto-accepts keys with the demo prefix when configured", async () => {
      const demo = await startRunpodSimulator({ trainer: false });
      try {
        const a = await gql(demo, "{ myself { id } }", {}, { key: "sim_alice" });
        const b = await gql(demo, "{ myself { id } }", {}, { key: "sim_bob" });
        expect(a.status).toBe(200);
        expect(a.body.data?.myself).not.toEqual(b.body.data?.myself);
        expect((await gql(demo, "{ myself { id } }", {}, { key: "sim_" })).status).toBe(401);
        expect((await gql(demo, "{ myself { id } }", {}, { key: "other" })).status).toBe(401);
      } finally {
        await demo.close();
      }
    });

    it("refuses GraphQL with a pod-scoped key", async () => {
      const podId = await deployPod(sim, key);
      const podKey = sim.podEnv(podId).RUNPOD_API_KEY;
      expect((await gql(sim, "{ myself { id } }", {}, { key: podKey })).status).toBe(401);
    });
  });

  describe("gpuTypes", () => {
    it("lists types with prices, the pseudo-type unknown, and lowestPrice per count and cloud", async () => {
      const answer = await gql(
        sim,
        `query($n: Int!) { gpuTypes { id displayName memoryInGb securePrice communityPrice
           lowestPrice(input: { gpuCount: $n, secureCloud: true }) { uninterruptablePrice minimumBidPrice stockStatus availableGpuCounts } } }`,
        { n: 1 },
      );
      const types = answer.body.data?.gpuTypes as { id: string; lowestPrice: Record<string, unknown> }[];
      expect(types.map((t) => t.id)).toEqual(
        expect.arrayContaining(["NVIDIA RTX A6000", "NVIDIA H200", "unknown"]),
      );
      expect(types.find((t) => t.id === "NVIDIA RTX A6000")).toMatchObject({
        displayName: "RTX A6000",
        memoryInGb: 48,
        securePrice: 0.49,
        lowestPrice: {
          uninterruptablePrice: 0.49,
          minimumBidPrice: 0.33,
          stockStatus: "High",
          availableGpuCounts: [1, 2, 4, 8],
        },
      });
    });

    it("always answers a list, empty for an unknown id", async () => {
      const one = await gql(sim, `{ gpuTypes(input: { id: "NVIDIA H100 80GB HBM3" }) { id displayName } }`);
      expect(one.body.data).toEqual({ gpuTypes: [{ id: "NVIDIA H100 80GB HBM3", displayName: "H100 SXM" }] });
      const none = await gql(sim, `{ gpuTypes(input: { id: "ADA_24" }) { id } }`);
      expect(none.body.data).toEqual({ gpuTypes: [] });
    });

    it("follows stock changes", async () => {
      sim.setStock("NVIDIA L4", "None", "SECURE");
      const answer = await gql(
        sim,
        `{ gpuTypes(input: { id: "NVIDIA L4" }) { lowestPrice(input: { gpuCount: 1, secureCloud: true }) { stockStatus availableGpuCounts } } }`,
      );
      expect(answer.body.data).toEqual({
        gpuTypes: [{ lowestPrice: { stockStatus: "None", availableGpuCounts: [] } }],
      });
      sim.setStock("NVIDIA L4", "High", "SECURE");
    });

    it("rejects an invalid document with HTTP 400", async () => {
      const answer = await gql(sim, "{ gpuTypes { nope } }");
      expect(answer.status).toBe(400);
      expect(answer.body.errors?.[0]?.message).toContain("nope");
    });
  });

  describe("podFindAndDeployOnDemand", () => {
    it("returns a RUNNING pod at once, priced gpuCount x price, runtime null, env echoed as K=V", async () => {
      const answer = await gql(
        sim,
        CREATE,
        {
          input: createInput({
            gpuCount: 2,
            env: [
              { key: "A", value: "x=y" },
              { key: "B", value: "" },
            ],
          }),
        },
        { key },
      );
      expect(answer.status).toBe(200);
      const pod = answer.body.data?.podFindAndDeployOnDemand as Pod;
      expect(pod.id).toMatch(/^[a-z0-9]{14}$/);
      expect(pod).toMatchObject({
        desiredStatus: "RUNNING",
        costPerHr: 0.5,
        runtime: null,
        env: ["A=x=y", "B="],
        podType: "RESERVED",
      });
      expect(pod.machine.podHostId).toMatch(new RegExp(`^${pod.id}-\\d+$`));
      expect(pod.machine.gpuDisplayName).toBe("RTX A4000");
      expect(pod.env.some((e) => e.startsWith("RUNPOD_API_KEY"))).toBe(false);
      expect(sim.podEnv(pod.id)).toMatchObject({ A: "x=y", RUNPOD_POD_ID: pod.id, RUNPOD_GPU_COUNT: "2" });
      expect(sim.podEnv(pod.id).RUNPOD_API_KEY).toMatch(/^rpa_[A-Z0-9]{40}$/);
    });

    it.each(["AMPERE_16", "RTX A4000", "unknown", "NVIDIA A100 SXM4 80GB"])(
      "rejects gpuTypeId %p and creates nothing",
      async (gpuTypeId) => {
        const before = sim.pods(key).length;
        const answer = await gql(sim, CREATE, { input: createInput({ gpuTypeId }) }, { key });
        expect(answer.status).toBe(200);
        expect(answer.body.data).toEqual({ podFindAndDeployOnDemand: null });
        expect(answer.body.errors?.[0]?.message).toMatch(/gpuTypeId/);
        expect(sim.pods(key)).toHaveLength(before);
      },
    );

    it("answers no capacity with RunPod's exact SUPPLY_CONSTRAINT shape", async () => {
      sim.faults.noCapacity("NVIDIA RTX A4000");
      const before = sim.pods(key).length;
      const answer = await gql(sim, CREATE, { input: createInput() }, { key });
      expect(answer).toEqual({
        status: 200,
        body: {
          errors: [
            {
              message: NO_CAPACITY_MESSAGE,
              path: ["podFindAndDeployOnDemand"],
              extensions: { code: "SUPPLY_CONSTRAINT", userId: accountId },
            },
          ],
          data: { podFindAndDeployOnDemand: null },
        },
      });
      expect(sim.pods(key)).toHaveLength(before);
      // Only that type, and only until restored.
      await deployPod(sim, key, { gpuTypeId: "NVIDIA RTX A5000" });
      sim.faults.restoreCapacity("NVIDIA RTX A4000");
      await deployPod(sim, key);
    });

    it("has no capacity for a cloud a type is not offered in, or beyond its stock", async () => {
      const b200 = await gql(
        sim,
        CREATE,
        { input: createInput({ gpuTypeId: "NVIDIA B200", cloudType: "COMMUNITY" }) },
        { key },
      );
      expect(b200.body.errors?.[0]?.extensions).toMatchObject({ code: "SUPPLY_CONSTRAINT" });
      // H100 PCIe stock is Low: at most 2 GPUs.
      const many = await gql(
        sim,
        CREATE,
        { input: createInput({ gpuTypeId: "NVIDIA H100 PCIe", gpuCount: 4 }) },
        { key },
      );
      expect(many.body.errors?.[0]?.message).toBe(NO_CAPACITY_MESSAGE);
    });

    it("rents spot pods at the bid, refusing bids under the floor", async () => {
      const mutation = `mutation($input: PodRentInterruptableInput!) { podRentInterruptable(input: $input) { id costPerHr podType } }`;
      const low = await gql(sim, mutation, { input: { ...createInput(), bidPerGpu: 0.01 } }, { key });
      expect(low.body.errors?.[0]?.message).toMatch(/bid/i);
      const ok = await gql(
        sim,
        mutation,
        { input: { ...createInput({ gpuCount: 2 }), bidPerGpu: 0.2 } },
        { key },
      );
      expect(ok.body.data?.podRentInterruptable).toMatchObject({ costPerHr: 0.4, podType: "INTERRUPTABLE" });
      sim.faults.noCapacity();
      const none = await gql(sim, mutation, { input: { ...createInput(), bidPerGpu: 0.2 } }, { key });
      expect(none.body.errors?.[0]?.message).toBe(NO_CAPACITY_SPOT_MESSAGE);
    });

    it("records what it received, without the key", async () => {
      const terminateAfter = "2099-01-01T00:00:00.000Z";
      await deployPod(sim, key, { env: [{ key: "JOB_ID", value: "j1" }], terminateAfter });
      const [record] = sim.requests;
      expect(record).toMatchObject({
        operationName: "Create",
        operationType: "mutation",
        fields: ["podFindAndDeployOnDemand"],
        keyPresent: true,
        keySource: "header",
        accountId,
        status: 200,
        errors: [],
      });
      expect(record?.variables).toMatchObject({
        input: { gpuTypeId: "NVIDIA RTX A4000", env: [{ key: "JOB_ID", value: "j1" }], terminateAfter },
      });
      expect(JSON.stringify(sim.requests)).not.toContain(key);
    });
  });

  describe("lifecycle", () => {
    it("shows runtime only after the startup delay, which the speed factor shortens", async () => {
      const fast = await startRunpodSimulator({ trainer: false, speedFactor: 50, startupSeconds: 10 });
      try {
        const k = fast.addAccount().apiKey;
        const started = Date.now();
        const created = await gql(
          fast,
          CREATE,
          { input: createInput({ ports: "8888/http,22/tcp" }) },
          { key: k },
        );
        const pod = created.body.data?.podFindAndDeployOnDemand as Pod;
        expect(pod.runtime).toBeNull();
        await fast.waitFor(() => fast.pod(pod.id)?.runtimeUp === true, {
          timeoutMs: 20_000,
          what: "runtime",
        });
        // 10 simulated seconds at 50x is 200 ms real; never sooner, however loaded the machine.
        expect(Date.now() - started).toBeGreaterThanOrEqual(180);
        const up = (await gql(fast, GET, { podId: pod.id }, { key: k })).body.data?.pod as Pod;
        expect(up.runtime?.ports.map((p) => [p.privatePort, p.type])).toEqual([
          [8888, "http"],
          [22, "tcp"],
        ]);
        expect(up.runtime?.uptimeInSeconds).toBeGreaterThanOrEqual(0);
      } finally {
        await fast.close();
      }
    });

    it("accrues uptime and cost with simulated time", async () => {
      const podId = await deployPod(sim, key, { gpuTypeId: "NVIDIA RTX A6000", gpuCount: 2 });
      const before = sim.pod(podId);
      sim.advance(1800);
      const after = sim.pod(podId);
      expect(after?.costPerHr).toBe(0.98);
      expect((after?.uptimeSeconds ?? 0) - (before?.uptimeSeconds ?? 0)).toBeGreaterThanOrEqual(1800);
      expect(after?.accruedCostUsd).toBeCloseTo(((after?.uptimeSeconds ?? 0) / 3600) * 0.98, 2);
      expect((await getPod(podId))?.uptimeSeconds).toBeGreaterThanOrEqual(1800);
    });

    it("runs simulated time faster with the speed factor", async () => {
      const fast = await startRunpodSimulator({ trainer: false, speedFactor: 200 });
      try {
        const k = fast.addAccount().apiKey;
        const started = Date.now();
        const podId = await deployPod(fast, k);
        await fast.waitFor(() => (fast.pod(podId)?.uptimeSeconds ?? 0) >= 60, { timeoutMs: 20_000 });
        expect(Date.now() - started).toBeGreaterThanOrEqual(250); // 60 simulated s at 200x is 300 ms real
        expect(fast.speedFactor).toBe(200);
      } finally {
        await fast.close();
      }
    });

    it("stops (no GPU billing, uptime frozen) and resumes", async () => {
      const podId = await deployPod(sim, key);
      sim.advance(100);
      const stopped = await gql(sim, STOP, { podId }, { key });
      expect(stopped.body.data?.podStop).toEqual({ id: podId, desiredStatus: "EXITED", costPerHr: 0 });
      const frozen = sim.pod(podId);
      sim.advance(1000);
      expect(sim.pod(podId)?.uptimeSeconds).toBe(frozen?.uptimeSeconds);
      expect(sim.pod(podId)?.accruedCostUsd).toBeCloseTo(frozen?.accruedCostUsd ?? -1, 6);
      const resumed = await gql(sim, RESUME, { podId }, { key });
      expect(resumed.body.data?.podResume).toEqual({ id: podId, desiredStatus: "RUNNING", costPerHr: 0.25 });
      expect((await getPod(podId))?.runtime).toBeNull();
    });

    it("restarts an exited container: still RUNNING, still billing", async () => {
      const podId = await deployPod(sim, key);
      sim.advance(60);
      expect(sim.pod(podId)?.runtimeUp).toBe(true);
      sim.exitContainer(podId);
      const restarting = await getPod(podId);
      expect(restarting).toMatchObject({ desiredStatus: "RUNNING", costPerHr: 0.25, runtime: null });
      expect(sim.pod(podId)?.restartCount).toBe(1);
      const cost = sim.pod(podId)?.accruedCostUsd ?? 0;
      sim.advance(3600);
      expect(sim.pod(podId)?.accruedCostUsd).toBeGreaterThan(cost + 0.24);
      expect((await getPod(podId))?.runtime).not.toBeNull();
    });

    it("terminates the pod when the pod clock passes terminateAfter", async () => {
      const terminateAfter = new Date(Date.now() + 2 * 3600_000).toISOString();
      const podId = await deployPod(sim, key, { terminateAfter });
      sim.advance(2 * 3600 - 60);
      expect((await getPod(podId))?.desiredStatus).toBe("RUNNING");
      sim.advance(120);
      expect(await getPod(podId)).toBeNull();
      expect(sim.pod(podId)).toMatchObject({
        desiredStatus: "TERMINATED",
        endReason: "Terminated by RunPod (terminateAfter)",
      });
      const uptime = sim.pod(podId)?.uptimeSeconds ?? 0;
      expect(uptime).toBeGreaterThanOrEqual(2 * 3600 - 60);
      const again = await gql(sim, TERMINATE, { podId }, { key });
      expect(again.body.errors?.[0]).toMatchObject({
        message: "pod not found to terminate",
        extensions: { code: "POD_NOT_FOUND" },
      });
    });

    it("stops the pod when the pod clock passes stopAfter", async () => {
      const podId = await deployPod(sim, key, { stopAfter: new Date(Date.now() + 600_000).toISOString() });
      sim.advance(700);
      expect((await getPod(podId))?.desiredStatus).toBe("EXITED");
    });

    it("terminates: gone from pod and myself.pods; a second terminate says pod not found", async () => {
      const podId = await deployPod(sim, key);
      const first = await gql(sim, TERMINATE, { podId }, { key });
      expect(first).toEqual({ status: 200, body: { data: { podTerminate: null } } });
      expect(await getPod(podId)).toBeNull();
      const list = await gql(sim, "{ myself { pods { id } } }", {}, { key });
      expect((list.body.data?.myself as { pods: { id: string }[] }).pods.map((p) => p.id)).not.toContain(
        podId,
      );
      const second = await gql(sim, TERMINATE, { podId }, { key });
      expect(second.status).toBe(200);
      expect(second.body.errors?.[0]).toMatchObject({
        message: "pod not found to terminate",
        extensions: { code: "POD_NOT_FOUND" },
      });
    });

    it("keeps accounts apart", async () => {
      const other = sim.addAccount();
      const podId = await deployPod(sim, key);
      expect(await getPod(podId, other.apiKey)).toBeNull();
      const stop = await gql(sim, STOP, { podId }, { key: other.apiKey });
      expect(stop.body.errors?.[0]?.extensions).toMatchObject({ code: "POD_NOT_FOUND" });
      const terminate = await gql(sim, TERMINATE, { podId }, { key: other.apiKey });
      expect(terminate.body.errors?.[0]?.message).toBe("pod not found to terminate");
      expect(sim.pod(podId)?.desiredStatus).toBe("RUNNING");
      const mine = await gql(sim, "{ myself { networkVolumes { id dataCenterId } } }", {}, { key });
      const theirs = await gql(
        sim,
        "{ myself { networkVolumes { id dataCenterId } } }",
        {},
        { key: other.apiKey },
      );
      const ids = (answer: typeof mine): string[] =>
        (answer.body.data?.myself as { networkVolumes: { id: string }[] }).networkVolumes.map((v) => v.id);
      expect(ids(mine).length).toBeGreaterThan(0);
      expect(ids(mine).some((id) => ids(theirs).includes(id))).toBe(false);
      expect(JSON.stringify(mine.body)).toMatch(/"dataCenterId":"[A-Z]+-[A-Z]+-\d+"/);
    });
  });

  describe("faults", () => {
    it("answers the next N requests with 5xx, doing nothing", async () => {
      sim.faults.failNext(2, { status: 502 });
      const before = sim.pods(key).length;
      expect((await gql(sim, CREATE, { input: createInput() }, { key })).status).toBe(502);
      expect((await gql(sim, "{ myself { id } }", {}, { key })).status).toBe(502);
      expect((await gql(sim, "{ myself { id } }", {}, { key })).status).toBe(200);
      expect(sim.pods(key)).toHaveLength(before);
    });

    it("scopes a fault to one field", async () => {
      sim.faults.failNext(1, { field: "podFindAndDeployOnDemand" });
      expect((await gql(sim, "{ myself { id } }", {}, { key })).status).toBe(200);
      expect((await gql(sim, CREATE, { input: createInput() }, { key })).status).toBe(503);
    });

    it("injects RunPod's 'Something went wrong'", async () => {
      sim.faults.graphqlErrorNext(1, { field: "pod" });
      const answer = await gql(sim, GET, { podId: "x" }, { key });
      expect(answer).toEqual({
        status: 200,
        body: {
          errors: [{ message: SOMETHING_WENT_WRONG, extensions: { code: "INTERNAL_SERVER_ERROR" } }],
          data: { pod: null },
        },
      });
    });

    it("delays answers", async () => {
      sim.faults.delay(300, { count: 1 });
      const started = Date.now();
      expect((await gql(sim, "{ myself { id } }", {}, { key })).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    });

    it("keeps a pod's container from ever starting: RUNNING and billing, runtime null", async () => {
      sim.faults.containerNeverStarts("acme/needs-newer-driver:cu130");
      const stuck = await deployPod(sim, key, { imageName: "acme/needs-newer-driver:cu130" });
      const fine = await deployPod(sim, key);
      sim.advance(3600);
      const pod = await getPod(stuck);
      expect(pod).toMatchObject({ desiredStatus: "RUNNING", runtime: null });
      expect(pod?.costPerHr).toBeGreaterThan(0);
      expect(pod?.uptimeSeconds).toBeGreaterThanOrEqual(3600);
      expect((await getPod(fine))?.runtime).not.toBeNull();
    });

    it("forces 401", async () => {
      sim.faults.forceUnauthorized();
      expect((await gql(sim, "{ gpuTypes { id } }")).status).toBe(401);
      sim.faults.forceUnauthorized(false);
      expect((await gql(sim, "{ gpuTypes { id } }")).status).toBe(200);
    });
  });

  describe("REST v1 self-termination", () => {
    const rest = (method: string, path: string, token?: string): Promise<{ status: number; body: unknown }> =>
      requestJson(method, `${sim.restUrl}${path}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        timeoutMs: 10_000,
      });

    it("lets a pod terminate itself with its pod-scoped key, and only itself", async () => {
      const podId = await deployPod(sim, key);
      const otherPod = await deployPod(sim, key);
      const podKey = sim.podEnv(podId).RUNPOD_API_KEY;
      expect((await rest("DELETE", `/pods/${podId}`)).status).toBe(401);
      expect((await rest("DELETE", `/pods/${otherPod}`, podKey)).status).toBe(401);
      expect(sim.pod(otherPod)?.desiredStatus).toBe("RUNNING");
      expect((await rest("DELETE", `/pods/${podId}`, podKey)).status).toBe(204);
      expect(sim.pod(podId)).toMatchObject({ desiredStatus: "TERMINATED", endReason: "Terminated by pod" });
      expect(await rest("DELETE", `/pods/${podId}`, podKey)).toEqual({
        status: 404,
        body: { error: "pod not found to terminate", status: 404 },
      });
      expect(sim.restRequests.map((r) => [r.auth, r.status])).toEqual([
        ["none", 401],
        ["pod-key", 401],
        ["pod-key", 204],
        ["pod-key", 404],
      ]);
    });

    it("lets a pod stop itself", async () => {
      const podId = await deployPod(sim, key);
      const answer = await rest("POST", `/pods/${podId}/stop`, sim.podEnv(podId).RUNPOD_API_KEY);
      expect(answer).toEqual({ status: 200, body: { id: podId, desiredStatus: "EXITED" } });
      expect((await getPod(podId))?.desiredStatus).toBe("EXITED");
    });

    it("accepts the account key too, for the account's own pods", async () => {
      const podId = await deployPod(sim, key);
      const other = sim.addAccount();
      expect((await rest("DELETE", `/pods/${podId}`, other.apiKey)).status).toBe(404);
      expect((await rest("DELETE", `/pods/${podId}`, key)).status).toBe(204);
    });
  });
});
