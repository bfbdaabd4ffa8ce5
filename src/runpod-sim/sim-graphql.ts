import { GraphQLError } from "graphql";
import { LocalPod } from "./local-pod";
import {
  type SimCloud,
  type SimGpuType,
  UNKNOWN_GPU_TYPE_ID,
  availableGpuCounts,
  maxCountForStock,
  onDemandPrice,
  spotPrice,
} from "./sim-gpu-market";
import { type SimAccount, type SimPod, type SimWorld, roundUsd } from "./sim-world";

/** Per-request context: the caller's account (null for anonymous `gpuTypes`). */
export interface SimContext {
  readonly account: SimAccount | null;
}

type Args = Record<string, unknown>;

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const int = (value: unknown): number | null =>
  typeof value === "number" && Number.isInteger(value) ? value : null;
const num = (value: unknown): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null;

function requireAccount(context: SimContext): SimAccount {
  // The HTTP layer answers 401 before execution; this guards direct use.
  if (context.account === null)
    throw new GraphQLError("Unauthorized", { extensions: { code: "UNAUTHENTICATED" } });
  return context.account;
}

/** [I] RunPod's wording for stopping/resuming an unknown pod is undocumented; the code mirrors terminate's. */
const podNotFound = (): GraphQLError =>
  new GraphQLError("Pod not found", { extensions: { code: "POD_NOT_FOUND" } });

/**
 * The root value for graphql-js `execute` over schema/runpod.graphql (built with `buildSchema`): each root field is
 * a function `(args, context)`, and nested fields are plain properties or methods of the returned objects.
 */
export function createRootValue(world: SimWorld): Record<string, unknown> {
  const pod = (p: SimPod): Record<string, unknown> => podToGraphql(world, p);
  return {
    myself: (_args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const pods = world.livePods(account);
      const spent = [...world.pods.values()]
        .filter((p) => p.accountId === account.id)
        .reduce((sum, p) => sum + world.accruedCostUsd(p), 0);
      return {
        id: account.id,
        email: account.email,
        clientBalance: roundUsd(account.initialBalance - spent),
        currentSpendPerHr: roundUsd(pods.reduce((sum, p) => sum + world.costPerHr(p), 0)),
        spendLimit: 80, // RunPod's default account spend limit: $80/hour
        pods: pods.map(pod),
        networkVolumes: account.networkVolumes.map((v) => ({
          id: v.id,
          name: v.name,
          size: v.size,
          dataCenterId: v.dataCenterId,
          dataCenter: {
            id: v.dataCenterId,
            name: v.dataCenterId,
            location: v.dataCenterId.split("-")[0] ?? null,
          },
        })),
      };
    },

    pod: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const podId = str(record(args.input).podId) ?? "";
      const found = world.visiblePod(account, podId);
      return found === undefined ? null : pod(found);
    },

    gpuTypes: (args: Args) => {
      const id = str(record(args.input).id);
      const all = [...world.market.values()].map((g) => gpuTypeToGraphql(world, g));
      all.push(unknownGpuType());
      // Always a list, even filtered by id; empty for an unknown id, as RunPod answers.
      return id === null ? all : all.filter((g) => g.id === id);
    },

    podFindAndDeployOnDemand: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      return pod(world.deploy(account, record(args.input), null));
    },

    podRentInterruptable: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const input = record(args.input);
      return pod(world.deploy(account, input, { bidPerGpu: num(input.bidPerGpu) ?? 0 }));
    },

    podStop: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const found = world.visiblePod(account, str(record(args.input).podId) ?? "");
      if (found === undefined) throw podNotFound();
      world.stop(found, "Exited by User");
      return pod(found);
    },

    podResume: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const input = record(args.input);
      const found = world.visiblePod(account, str(input.podId) ?? "");
      if (found === undefined) throw podNotFound();
      world.resume(found, int(input.gpuCount));
      return pod(found);
    },

    podBidResume: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const input = record(args.input);
      const found = world.visiblePod(account, str(input.podId) ?? "");
      if (found === undefined) throw podNotFound();
      world.resume(found, int(input.gpuCount));
      return pod(found);
    },

    podTerminate: (args: Args, context: SimContext) => {
      const account = requireAccount(context);
      const found = world.visiblePod(account, str(record(args.input).podId) ?? "");
      if (found === undefined) {
        // The message dstack matches on; the code is what third-party clients report.
        throw new GraphQLError("pod not found to terminate", { extensions: { code: "POD_NOT_FOUND" } });
      }
      world.terminate(found, "Terminated by User");
      return null;
    },
  };
}

/** A pod as RunPod's GraphQL shows it: env as ["K=V"], `runtime` null until the container is up. */
export function podToGraphql(world: SimWorld, pod: SimPod): Record<string, unknown> {
  const containerUptime = world.containerUptimeSeconds(pod);
  const training =
    pod.trainer instanceof LocalPod
      ? pod.trainer.process().running
      : pod.trainer?.state().phase === "training";
  return {
    id: pod.id,
    name: pod.name,
    imageName: pod.imageName,
    desiredStatus: pod.desiredStatus,
    lastStatusChange: pod.lastStatusChange,
    costPerHr: world.costPerHr(pod),
    adjustedCostPerHr: world.costPerHr(pod),
    uptimeSeconds: world.uptimeSeconds(pod),
    gpuCount: pod.gpuCount,
    vcpuCount: 8 * pod.gpuCount,
    memoryInGb: 62 * pod.gpuCount,
    containerDiskInGb: pod.containerDiskInGb,
    volumeInGb: pod.volumeInGb,
    volumeMountPath: pod.volumeMountPath,
    dockerArgs: pod.dockerArgs,
    dockerId: null,
    machineId: pod.machineId,
    podType: pod.podType,
    port: null,
    ports: pod.ports,
    // Only what the caller set: RunPod's injected RUNPOD_* values (the pod-scoped key) live in the container.
    env: pod.env.map(([key, value]) => `${key}=${value}`),
    machine: { podHostId: pod.podHostId, gpuDisplayName: pod.gpu.displayName, location: pod.dataCenterId },
    runtime:
      containerUptime === null
        ? null
        : {
            uptimeInSeconds: containerUptime,
            ports: pod.runtimePorts.map((p) => ({ ...p })),
            gpus: pod.gpuUuids.map((id) => ({
              id,
              gpuUtilPercent: training ? 97 : 0,
              memoryUtilPercent: training ? 78 : 0,
            })),
            container: { cpuPercent: training ? 35 : 1, memoryPercent: training ? 22 : 3 },
          },
  };
}

interface GraphqlGpuType extends Record<string, unknown> {
  readonly id: string;
}

function gpuTypeToGraphql(world: SimWorld, gpu: SimGpuType): GraphqlGpuType {
  const maxFor = (cloud: SimCloud): number | null =>
    onDemandPrice(gpu, cloud) === null ? null : maxCountForStock(gpu.stock[cloud], gpu.maxGpuCount);
  return {
    id: gpu.id,
    displayName: gpu.displayName,
    manufacturer: gpu.manufacturer,
    memoryInGb: gpu.memoryInGb,
    cudaCores: null,
    maxGpuCount: gpu.maxGpuCount,
    maxGpuCountSecureCloud: maxFor("SECURE"),
    maxGpuCountCommunityCloud: maxFor("COMMUNITY"),
    minPodGpuCount: 1,
    secureCloud: gpu.securePrice !== null,
    communityCloud: gpu.communityPrice !== null,
    securePrice: gpu.securePrice,
    communityPrice: gpu.communityPrice,
    secureSpotPrice: gpu.secureSpotPrice,
    communitySpotPrice: gpu.communitySpotPrice,
    oneWeekPrice: gpu.securePrice === null ? null : roundUsd(gpu.securePrice * 0.95),
    oneMonthPrice: gpu.securePrice === null ? null : roundUsd(gpu.securePrice * 0.9),
    threeMonthPrice: gpu.securePrice === null ? null : roundUsd(gpu.securePrice * 0.85),
    sixMonthPrice: gpu.securePrice === null ? null : roundUsd(gpu.securePrice * 0.8),
    lowestPrice: (args: Args) => lowestPrice(world, gpu, record(args.input)),
  };
}

/**
 * `lowestPrice(input: {gpuCount, secureCloud})`: per-GPU prices of the chosen cloud (`secureCloud: null` = the
 * cheaper of the two that has stock). `stockStatus` is the cloud's stock; an injected no-capacity fault does NOT
 * change it, because RunPod's stock is no promise either (runpodctl#189).
 */
function lowestPrice(
  world: SimWorld,
  gpu: SimGpuType,
  input: Record<string, unknown>,
): Record<string, unknown> {
  const gpuCount = int(input.gpuCount) ?? 1;
  const secureCloud = input.secureCloud;
  const clouds: SimCloud[] =
    secureCloud === true ? ["SECURE"] : secureCloud === false ? ["COMMUNITY"] : ["COMMUNITY", "SECURE"];
  const offered = clouds.filter((c) => onDemandPrice(gpu, c) !== null);
  const cloud =
    offered.find((c) => maxCountForStock(gpu.stock[c], gpu.maxGpuCount) >= gpuCount) ?? offered[0] ?? null;
  const stock = cloud === null ? null : gpu.stock[cloud];
  return {
    minimumBidPrice: cloud === null ? null : spotPrice(gpu, cloud),
    uninterruptablePrice: cloud === null ? null : onDemandPrice(gpu, cloud),
    stockStatus: stock,
    availableGpuCounts: cloud === null ? [] : availableGpuCounts(stock, gpu.maxGpuCount),
    maxUnreservedGpuCount: cloud === null ? 0 : maxCountForStock(stock, gpu.maxGpuCount),
    minVcpu: 4 * gpuCount,
    minMemory: 15 * gpuCount,
    compliance: null,
    countryCode: null,
    gpuName: gpu.displayName,
    gpuTypeId: gpu.id,
  };
}

/** RunPod's pseudo-type `unknown`: listed, never deployable, nothing priced. */
function unknownGpuType(): GraphqlGpuType {
  return {
    id: UNKNOWN_GPU_TYPE_ID,
    displayName: "Unknown",
    manufacturer: null,
    memoryInGb: 0,
    maxGpuCount: 0,
    secureCloud: false,
    communityCloud: false,
    securePrice: 0,
    communityPrice: 0,
    secureSpotPrice: 0,
    communitySpotPrice: 0,
    lowestPrice: () => ({
      minimumBidPrice: null,
      uninterruptablePrice: null,
      stockStatus: null,
      availableGpuCounts: [],
      gpuName: "Unknown",
      gpuTypeId: UNKNOWN_GPU_TYPE_ID,
    }),
  };
}
