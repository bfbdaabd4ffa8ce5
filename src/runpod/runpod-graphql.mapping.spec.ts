import { CloudType, GpuType } from "./gpu-catalogue";
import { PodStatus } from "./runpod-client";
import {
  type UpstreamErrorKind,
  classifyGraphqlError,
  quotableUpstreamMessage,
  readGraphqlErrors,
  safeUpstreamCode,
  secretsIn,
  toCreatePodInput,
  toGpuOffers,
  toNetworkVolumes,
  toPodInfo,
} from "./runpod-graphql.mapping";

const gpu = (over: Record<string, unknown>): Record<string, unknown> => ({
  id: "NVIDIA RTX A6000",
  displayName: "RTX A6000",
  memoryInGb: 48,
  secureCloud: true,
  communityCloud: true,
  securePrice: 0.49,
  communityPrice: 0.33,
  secureSpotPrice: 0.33,
  communitySpotPrice: 0.25,
  lowestPrice: {
    uninterruptablePrice: 0.49,
    minimumBidPrice: 0.33,
    stockStatus: "High",
    availableGpuCounts: [1, 2, 4, 8],
  },
  ...over,
});

describe("toGpuOffers", () => {
  const secure1 = { cloudType: CloudType.SECURE, gpuCount: 1 };

  it.each<
    [string, Record<string, unknown>, { cloudType: CloudType; gpuCount: number }, Record<string, unknown>]
  >([
    [
      "lowestPrice, one GPU",
      {},
      secure1,
      { pricePerHourUsd: 0.49, spotPricePerHourUsd: 0.33, stockStatus: "High", available: true },
    ],
    [
      "whole-pod price for 3 GPUs, rounded",
      {
        lowestPrice: {
          uninterruptablePrice: 0.49,
          minimumBidPrice: 0.33,
          stockStatus: "High",
          availableGpuCounts: [1, 2, 3],
        },
      },
      { cloudType: CloudType.SECURE, gpuCount: 3 },
      { pricePerHourUsd: 1.47, spotPricePerHourUsd: 0.99, available: true },
    ],
    [
      "count not in availableGpuCounts",
      {},
      { cloudType: CloudType.SECURE, gpuCount: 3 },
      { pricePerHourUsd: 1.47, available: false },
    ],
    [
      "availableGpuCounts absent: no count check",
      { lowestPrice: { uninterruptablePrice: 0.49, stockStatus: "Low" } },
      { cloudType: CloudType.SECURE, gpuCount: 8 },
      { pricePerHourUsd: 3.92, available: true },
    ],
    [
      "no availableGpuCounts: at most maxGpuCount",
      { maxGpuCount: 4, lowestPrice: { uninterruptablePrice: 0.49, stockStatus: "High" } },
      { cloudType: CloudType.SECURE, gpuCount: 8 },
      { available: false },
    ],
    [
      "stock None",
      { lowestPrice: { uninterruptablePrice: 0.49, stockStatus: "None", availableGpuCounts: [] } },
      secure1,
      { stockStatus: "None", available: false },
    ],
    [
      "stock null",
      { lowestPrice: { uninterruptablePrice: 0.49, stockStatus: null } },
      secure1,
      { stockStatus: null, available: false },
    ],
    [
      "lowestPrice null: list price fallback, unavailable (no stock)",
      { lowestPrice: null },
      secure1,
      { pricePerHourUsd: 0.49, spotPricePerHourUsd: 0.33, stockStatus: null, available: false },
    ],
    [
      "community list price fallback",
      { lowestPrice: { stockStatus: "Medium", availableGpuCounts: [1] } },
      { cloudType: CloudType.COMMUNITY, gpuCount: 1 },
      { pricePerHourUsd: 0.33, spotPricePerHourUsd: 0.25, available: true },
    ],
    [
      "cloud not offered",
      {
        communityCloud: false,
        communityPrice: null,
        lowestPrice: { uninterruptablePrice: 0.5, stockStatus: "High" },
      },
      { cloudType: CloudType.COMMUNITY, gpuCount: 1 },
      { pricePerHourUsd: null, available: false },
    ],
    [
      "price 0 means not offered",
      { securePrice: 0, lowestPrice: { uninterruptablePrice: 0, stockStatus: "High" } },
      secure1,
      { pricePerHourUsd: null, available: false },
    ],
    ["secureCloud null is not 'not offered'", { secureCloud: null }, secure1, { available: true }],
    [
      "display name and memory from RunPod",
      { displayName: "RTX A6000 (48GB)", memoryInGb: 48 },
      secure1,
      {
        displayName: "RTX A6000 (48GB)",
        memoryGb: 48,
        gpuType: GpuType.RTX_A6000,
        runpodGpuTypeId: "NVIDIA RTX A6000",
      },
    ],
    [
      "missing display name and memory from the catalogue",
      { displayName: null, memoryInGb: null },
      secure1,
      { displayName: "RTX A6000", memoryGb: 48 },
    ],
  ])("%s", (_name, over, query, expected) => {
    const [offer] = toGpuOffers([gpu(over)], query);
    expect(offer).toMatchObject(expected);
  });

  it("keeps only TrainGate's GPU types, once each, in enum order", () => {
    const offers = toGpuOffers(
      [
        gpu({ id: "unknown", displayName: "Unknown" }),
        gpu({ id: "NVIDIA H100 80GB HBM3", displayName: "H100 SXM" }),
        gpu({ id: "NVIDIA A30" }),
        gpu({ id: "AMPERE_16" }),
        gpu({}),
        gpu({ id: "NVIDIA RTX A6000", securePrice: 9 }),
        "not an object",
        null,
      ],
      secure1,
    );
    expect(offers.map((o) => o.gpuType)).toEqual([GpuType.RTX_A6000, GpuType.H100_SXM]);
  });

  it("tolerates a non-list", () => {
    expect(toGpuOffers(null, secure1)).toEqual([]);
    expect(toGpuOffers({ gpuTypes: [] }, secure1)).toEqual([]);
  });
});

describe("toPodInfo", () => {
  const raw = {
    id: "50qynxzilsxoey",
    name: "traingate-1",
    imageName: "runpod/pytorch",
    desiredStatus: "RUNNING",
    lastStatusChange: "Rented by User: Tue Nov 28 2025",
    costPerHr: 0.98,
    uptimeSeconds: 3931,
    gpuCount: 2,
    env: ["JOB_ID=j1", "B64=YQ=="],
    machineId: "hpvdausak8xb",
    machine: { podHostId: "50qynxzilsxoey-64410065", gpuDisplayName: "RTX A6000" },
    runtime: {
      uptimeInSeconds: 3931,
      ports: [{ ip: "100.65.0.101", isIpPublic: false, privatePort: 8888, publicPort: 60141, type: "http" }],
    },
  };

  it("maps the docs' sample", () => {
    expect(toPodInfo(raw)).toEqual({
      id: "50qynxzilsxoey",
      name: "traingate-1",
      status: PodStatus.RUNNING,
      desiredStatus: "RUNNING",
      runtimeUp: true,
      costPerHr: 0.98,
      uptimeSeconds: 3931,
      gpuCount: 2,
      gpuType: GpuType.RTX_A6000,
      gpuDisplayName: "RTX A6000",
      imageName: "runpod/pytorch",
      lastStatusChange: "Rented by User: Tue Nov 28 2025",
      machineId: "hpvdausak8xb",
      podHostId: "50qynxzilsxoey-64410065",
      ports: [{ ip: "100.65.0.101", isIpPublic: false, privatePort: 8888, publicPort: 60141, type: "http" }],
    });
  });

  it.each<[string, unknown, Record<string, unknown> | null]>([
    ["null", null, null],
    ["no id", { name: "x" }, null],
    [
      "just created",
      { id: "abc", desiredStatus: "RUNNING", runtime: null, costPerHr: 0.25 },
      { status: PodStatus.STARTING, runtimeUp: false, uptimeSeconds: 0, ports: [], gpuType: null },
    ],
    [
      "exited",
      { id: "abc", desiredStatus: "EXITED", costPerHr: 0 },
      { status: PodStatus.STOPPED, costPerHr: 0 },
    ],
    [
      "uptime from runtime when uptimeSeconds is missing",
      { id: "abc", desiredStatus: "RUNNING", runtime: { uptimeInSeconds: 12.7 } },
      { uptimeSeconds: 12, status: PodStatus.RUNNING },
    ],
    [
      "wrong types are dropped",
      { id: "abc", costPerHr: "0.5", gpuCount: 1.5, env: "A=1" },
      { costPerHr: null, gpuCount: 0 },
    ],
  ])("%s", (_name, input, expected) => {
    const pod = toPodInfo(input);
    if (expected === null) expect(pod).toBeNull();
    else expect(pod).toMatchObject(expected);
  });
});

describe("toNetworkVolumes", () => {
  it("maps and skips malformed entries", () => {
    expect(
      toNetworkVolumes([
        { id: "agv6w2qcg7", name: "ckpt", size: 50, dataCenterId: "EU-RO-1" },
        { id: "", name: "bad" },
        { name: "no id" },
        { id: "x1", name: null, size: null, dataCenterId: null },
      ]),
    ).toEqual([
      { id: "agv6w2qcg7", name: "ckpt", sizeGb: 50, dataCenterId: "EU-RO-1" },
      { id: "x1", name: "", sizeGb: 0, dataCenterId: null },
    ]);
  });
});

describe("toCreatePodInput", () => {
  it("maps the spec to RunPod's input, leaving unset options out", () => {
    const input = toCreatePodInput(
      {
        name: "traingate-d1",
        gpuType: GpuType.A100_SXM_80GB,
        gpuCount: 2,
        cloudType: CloudType.COMMUNITY,
        imageName: "runpod/pytorch:2.4",
        dockerArgs: "bash -c 'echo $X | base64 -d | bash'",
        env: { JOB_ID: "j1", WEIRD: 'a"b\n${c}' },
        volumeInGb: 20,
        containerDiskInGb: 30,
        terminateAfter: new Date("2026-08-18T00:00:00.000Z"),
        ports: ["8888/http", "22/tcp"],
      },
      undefined,
    );
    expect(input).toEqual({
      name: "traingate-d1",
      imageName: "runpod/pytorch:2.4",
      gpuTypeId: "NVIDIA A100-SXM4-80GB",
      gpuCount: 2,
      cloudType: "COMMUNITY",
      volumeInGb: 20,
      containerDiskInGb: 30,
      volumeMountPath: undefined,
      dockerArgs: "bash -c 'echo $X | base64 -d | bash'",
      env: [
        { key: "JOB_ID", value: "j1" },
        { key: "WEIRD", value: 'a"b\n${c}' },
      ],
      ports: "8888/http,22/tcp",
      networkVolumeId: undefined,
      dataCenterId: undefined,
      terminateAfter: "2026-08-18T00:00:00.000Z",
      stopAfter: undefined,
    });
    // undefined fields vanish on the wire rather than being sent as null.
    expect(JSON.parse(JSON.stringify(input))).not.toHaveProperty("dataCenterId");
  });

  const spec = (imageName: string) => ({
    name: "traingate-d1",
    gpuType: GpuType.RTX_5090,
    gpuCount: 1,
    cloudType: CloudType.SECURE,
    imageName,
    dockerArgs: "bash",
    env: {},
    volumeInGb: 20,
    containerDiskInGb: 20,
  });

  it("asks for hosts whose driver supports the image's CUDA", () => {
    expect(
      toCreatePodInput(spec("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2204"), undefined),
    ).toMatchObject({ minCudaVersion: "12.8", allowedCudaVersions: ["12.8", "12.9", "13.0"] });
    expect(
      toCreatePodInput(spec("runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"), undefined),
    ).toMatchObject({ minCudaVersion: "12.4" });
  });

  it("sends no CUDA constraint for an image whose tag names none", () => {
    const wire = JSON.parse(JSON.stringify(toCreatePodInput(spec("acme/trainer:v3"), undefined))) as object;
    expect(wire).not.toHaveProperty("minCudaVersion");
    expect(wire).not.toHaveProperty("allowedCudaVersions");
  });
});

describe("classifyGraphqlError", () => {
  it.each<[string, string | null, UpstreamErrorKind]>([
    [
      "There are no longer any instances available with the requested specifications. Please refresh and try again.",
      "SUPPLY_CONSTRAINT",
      "capacity",
    ],
    [
      "There are no longer any instances available with the requested specifications. Please refresh and try again.",
      null,
      "capacity",
    ],
    [
      "There are no longer any instances available with the request specifications. Please try again later.",
      null,
      "capacity",
    ],
    ["There are no longer any instances available with enough disk space.", null, "capacity"],
    ["No compatible CUDA host is currently available.\n", null, "capacity"],
    ["There are not enough free GPUs on the host machine to start this pod", null, "capacity"],
    ["anything", "SUPPLY_CONSTRAINT", "capacity"],
    ["pod not found to terminate", null, "not-found"],
    ["pod not found to terminate", "POD_NOT_FOUND", "not-found"],
    ["Pod not found", "POD_NOT_FOUND", "not-found"],
    ["Unauthorized", null, "auth"],
    ["Forbidden: access denied", null, "auth"],
    ["whatever", "UNAUTHENTICATED", "auth"],
    [
      "Something went wrong. Please try again later or contact support.",
      "INTERNAL_SERVER_ERROR",
      "transient",
    ],
    ["Something went wrong. Please try again later or contact support.", null, "transient"],
    ["oops", "INTERNAL_SERVER_ERROR", "transient"],
    ['Cannot query field "foo" on type "Pod".', "GRAPHQL_VALIDATION_FAILED", "rejected"],
    ["Invalid gpuTypeId", "BAD_USER_INPUT", "rejected"],
    ["", null, "rejected"],
  ])("%p (%p) is %s", (message, code, kind) => {
    expect(classifyGraphqlError({ message, code })).toBe(kind);
  });

  it("reads RunPod's error array defensively", () => {
    expect(
      readGraphqlErrors([
        {
          message: "m",
          path: ["podFindAndDeployOnDemand"],
          extensions: { code: "SUPPLY_CONSTRAINT", userId: "u" },
        },
        { message: 3 },
        "x",
      ]),
    ).toEqual([
      { message: "m", code: "SUPPLY_CONSTRAINT" },
      { message: "", code: null },
    ]);
    expect(readGraphqlErrors(undefined)).toEqual([]);
  });
});

describe("quotableUpstreamMessage and safeUpstreamCode", () => {
  it("redacts the key, strips control characters and caps the length", () => {
    expect(quotableUpstreamMessage("No compatible CUDA host is currently available.\n", ["k"])).toBe(
      "No compatible CUDA host is currently available.",
    );
    expect(quotableUpstreamMessage("key rpa_SECRET echoed rpa_SECRET", ["rpa_SECRET"])).toBe(
      "key [redacted] echoed [redacted]",
    );
    expect(quotableUpstreamMessage("x".repeat(500), [undefined])).toHaveLength(200);
  });

  it("redacts the longest secret first and collects request values", () => {
    expect(quotableUpstreamMessage("token abcdefgh-XYZ", ["abcdefgh", "abcdefgh-XYZ"])).toBe(
      "token [redacted]",
    );
    expect(
      secretsIn({
        input: { env: [{ key: "JOB_TOKEN", value: "jt_0123456789" }], gpuCount: 1, name: "short" },
      }),
    ).toEqual(["JOB_TOKEN", "jt_0123456789"]);
  });

  it.each<[string | null, string | null]>([
    ["SUPPLY_CONSTRAINT", "SUPPLY_CONSTRAINT"],
    ["Cluster not found", null],
    ["rpa_ABC", null],
    [null, null],
  ])("code %p is %p", (code, expected) => {
    expect(safeUpstreamCode(code)).toBe(expected);
  });
});
