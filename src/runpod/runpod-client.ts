import type { CloudType, GpuType } from "./gpu-catalogue";

/**
 * TrainGate's view of a pod's lifecycle, derived from RunPod's `desiredStatus` and whether `runtime` is
 * present (see {@link mapPodStatus}).
 */
export enum PodStatus {
  /** Accepted by RunPod but the container is not up yet (image pull, container start, restart). Billing. */
  STARTING = "STARTING",
  /** The container is up. Billing. */
  RUNNING = "RUNNING",
  /** Stopped: GPU released, volume disk kept (and billed as storage). RunPod `EXITED`/`PAUSED`. */
  STOPPED = "STOPPED",
  /** Gone for good. RunPod usually stops listing such a pod at all, so this is rarely seen. */
  TERMINATED = "TERMINATED",
}

/** What TrainGate asks RunPod to create. Everything here is ours; the implementation maps it to RunPod's input. */
export interface PodSpec {
  /** Pod name. TrainGate uses `traingate-<deploymentId>` so that a pod can be found again after a lost answer. */
  readonly name: string;
  /** Mapped to RunPod's exact `gpuTypeId` inside the implementation (gpu-catalogue.ts). */
  readonly gpuType: GpuType;
  readonly gpuCount: number;
  readonly cloudType: CloudType;
  readonly imageName: string;
  /** Overrides the image's CMD. Passed as a variable, so any characters are safe. */
  readonly dockerArgs: string;
  /** Container environment. Values may contain anything (newlines, quotes, `=`). */
  readonly env: Readonly<Record<string, string>>;
  /** Pod volume disk (persists across stop), GB. */
  readonly volumeInGb: number;
  /** Container disk (wiped on stop and restart), GB. */
  readonly containerDiskInGb: number;
  /** Where the volume (or the network volume) is mounted; RunPod's default differs per client, we say it. */
  readonly volumeMountPath?: string;
  /** A RunPod network volume of the same account, mounted at `volumeMountPath`. */
  readonly networkVolumeId?: string;
  /**
   * Data center, e.g. `EU-RO-1`. Required with a network volume: a pod must run where its network volume lives,
   * and the caller (which looked the volume up) gives its data center.
   */
  readonly dataCenterId?: string;
  /** RunPod terminates the pod server-side after this instant: the budget's dead-man switch. */
  readonly terminateAfter?: Date;
  /** RunPod stops the pod server-side after this instant. */
  readonly stopAfter?: Date;
  /** Exposed ports, each `"<port>/http"` or `"<port>/tcp"`. */
  readonly ports?: readonly string[];
}

/** One exposed port of a running container (RunPod `runtime.ports`). */
export interface PodPort {
  readonly ip: string | null;
  readonly isIpPublic: boolean;
  readonly privatePort: number | null;
  readonly publicPort: number | null;
  readonly type: string | null;
}

/** A pod as TrainGate sees it. */
export interface PodInfo {
  readonly id: string;
  readonly name: string;
  readonly status: PodStatus;
  /** RunPod's raw `desiredStatus` (`RUNNING`, `EXITED`, ...), kept for the audit trail. */
  readonly desiredStatus: string;
  /** Whether RunPod reports a container runtime (the container is up). */
  readonly runtimeUp: boolean;
  /** USD per hour for the whole pod, as RunPod charges it now (0 while stopped); null when RunPod omits it. */
  readonly costPerHr: number | null;
  /** Seconds the pod has been up, as RunPod reports it (0 when unknown). */
  readonly uptimeSeconds: number;
  readonly gpuCount: number;
  /** Our GPU type when the pod's GPU is one TrainGate knows, else null. */
  readonly gpuType: GpuType | null;
  /** RunPod's `machine.gpuDisplayName`, e.g. `H100 SXM`. */
  readonly gpuDisplayName: string | null;
  readonly imageName: string | null;
  /** RunPod's free-text description of the last lifecycle event. Not a timestamp: never parse it. */
  readonly lastStatusChange: string | null;
  readonly machineId: string | null;
  readonly podHostId: string | null;
  /** Exposed ports once the container is up; empty before. */
  readonly ports: readonly PodPort[];
}

/** A price and stock quote for one GPU type, cloud type and GPU count. */
export interface GpuOffer {
  readonly gpuType: GpuType;
  readonly runpodGpuTypeId: string;
  readonly displayName: string;
  /** VRAM per GPU, GB. */
  readonly memoryGb: number;
  /**
   * On-demand USD per hour for the WHOLE pod, i.e. already multiplied by the requested `gpuCount` (RunPod quotes
   * per GPU; pod prices are linear in the count). Rounded to 4 decimals. Null when RunPod
   * gives no price for this cloud type.
   */
  readonly pricePerHourUsd: number | null;
  /** Spot (interruptible) floor for the whole pod, same convention. */
  readonly spotPricePerHourUsd: number | null;
  /** RunPod's `stockStatus` as given: `High`, `Medium`, `Low`, `None`, or null. */
  readonly stockStatus: string | null;
  /**
   * Whether a deploy is worth trying: stock is neither `None` nor null, the count is among RunPod's
   * `availableGpuCounts` when it lists them, and there is a price. A hint, not a promise: RunPod fails
   * deploys with stock `Low` too (runpodctl#189).
   */
  readonly available: boolean;
}

/** A RunPod network volume of the caller's account. */
export interface NetworkVolume {
  readonly id: string;
  readonly name: string;
  readonly sizeGb: number;
  readonly dataCenterId: string | null;
}

/** Which offers to list. */
export interface GpuOfferQuery {
  readonly cloudType: CloudType;
  /** 1..8. Prices in the answer are for this many GPUs. */
  readonly gpuCount: number;
}

/**
 * TrainGate's one door to RunPod. It speaks our domain types; the implementation owns RunPod's URL, key
 * header, wire format, timeouts and retries, and turns every upstream failure into an `AppError` with one of
 * our codes (src/errors/app-error.ts). Errors never carry the API key or upstream payloads.
 *
 * Failures, for every method:
 * - `UPSTREAM_AUTH_FAILED`: RunPod refused the key (HTTP 401/403).
 * - `UPSTREAM_UNAVAILABLE`: timeout, network error, HTTP 5xx or RunPod's "Something went wrong", after the
 *   retries the method allows. `details.retryAfterSeconds` may say when to try again.
 * - `INTERNAL_SERVER_ERROR`: RunPod rejected the request for a reason we do not recognise (message generic).
 *
 * Today's implementation is `RunpodGraphqlClient`; RunPod has announced that GraphQL retires in early 2027,
 * so a REST implementation is expected to sit beside it and pass the same contract suite
 * (`testing/runpod-client.contract.ts`).
 */
export interface RunpodClient {
  /**
   * Creates an on-demand pod. Never retried: a lost answer may still have created a pod, so on
   * `UPSTREAM_UNAVAILABLE` with `details.outcomeUnknown === true` the caller must look for `spec.name` in
   * {@link listPods} before trying again.
   *
   * @throws `GPU_UNAVAILABLE` when RunPod has no capacity for this GPU type, count, cloud and data center (the
   *   message may quote RunPod's capacity message); fall back to another spec rather than retrying this one.
   * @throws `NOT_FOUND` when `spec.networkVolumeId` is not a network volume of this account.
   * @throws `BAD_USER_INPUT` for a spec that cannot be valid (gpuCount, ports).
   */
  createPod(apiKey: string, spec: PodSpec): Promise<PodInfo>;

  /** The pod, or null when RunPod does not know it (never existed, terminated, another account's). Retried. */
  getPod(apiKey: string, podId: string): Promise<PodInfo | null>;

  /** Every pod of the account that is not terminated. Retried. */
  listPods(apiKey: string): Promise<PodInfo[]>;

  /**
   * Stops a pod (GPU released, volume kept). Retried; stopping a stopped pod is harmless.
   * @throws `NOT_FOUND` when RunPod does not know the pod.
   */
  stopPod(apiKey: string, podId: string): Promise<void>;

  /**
   * Resumes a stopped pod with `gpuCount` GPUs. Not retried (RunPod may have started it).
   * @throws `GPU_UNAVAILABLE` when the pod's host has no free GPU ("There are not enough free GPUs ...").
   * @throws `NOT_FOUND` when RunPod does not know the pod.
   */
  resumePod(apiKey: string, podId: string, gpuCount: number): Promise<PodInfo>;

  /**
   * Terminates a pod for good. Idempotent: RunPod's "pod not found to terminate" (already gone) is success.
   * Retried.
   */
  terminatePod(apiKey: string, podId: string): Promise<void>;

  /**
   * Live prices and stock for every GPU type TrainGate offers (other RunPod types are left out). Prices are
   * public, so `apiKey` may be undefined (RunPod answers `gpuTypes` without one). Not cached here; see
   * `GpuOfferService`. Retried.
   */
  listGpuOffers(apiKey: string | undefined, query: GpuOfferQuery): Promise<GpuOffer[]>;

  /** The account's network volumes. Retried. */
  listNetworkVolumes(apiKey: string): Promise<NetworkVolume[]>;
}

/**
 * Maps RunPod's `desiredStatus` plus "is there a runtime" to a {@link PodStatus}. Pure.
 *
 * | desiredStatus            | runtime | status     | why |
 * |--------------------------|---------|------------|-----|
 * | RUNNING                  | yes     | RUNNING    | container up |
 * | RUNNING                  | no      | STARTING   | RunPod says RUNNING at once; runtime stays null until the container is up |
 * | CREATED, RESTARTING      | any     | STARTING   | SkyPilot treats both as pending |
 * | EXITED, PAUSED           | any     | STOPPED    | GPU released; PAUSED is not billed for GPU either |
 * | TERMINATED               | any     | TERMINATED | |
 * | null, empty, unknown     | any     | STARTING   | never conclude "gone" or "stopped" from a value we do not know: the pod may be billing, so keep watching it |
 *
 * Case-insensitive and trimmed.
 */
export function mapPodStatus(desiredStatus: string | null | undefined, runtime: boolean): PodStatus {
  switch ((desiredStatus ?? "").trim().toUpperCase()) {
    case "RUNNING":
      return runtime ? PodStatus.RUNNING : PodStatus.STARTING;
    case "EXITED":
    case "PAUSED":
      return PodStatus.STOPPED;
    case "TERMINATED":
      return PodStatus.TERMINATED;
    default:
      // CREATED, RESTARTING and anything new.
      return PodStatus.STARTING;
  }
}
