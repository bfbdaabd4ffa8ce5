/**
 * Pure translations between RunPod's GraphQL wire shapes and TrainGate's domain types. Everything that
 * arrives from RunPod is `unknown` and narrowed here; nothing is trusted to have the shape the docs show.
 */
import {
  ALL_GPU_TYPES,
  CloudType,
  type GpuType,
  gpuCatalogueEntry,
  gpuTypeFromDisplayName,
  gpuTypeFromRunpodId,
  runpodGpuTypeId,
} from "./gpu-catalogue";
import { cudaHostConstraint } from "./image-cuda";
import {
  type GpuOffer,
  type GpuOfferQuery,
  type NetworkVolume,
  type PodInfo,
  type PodPort,
  type PodSpec,
  mapPodStatus,
} from "./runpod-client";

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const num = (value: unknown): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null;
const int = (value: unknown): number | null => {
  const n = num(value);
  return n !== null && Number.isInteger(n) ? n : null;
};
const bool = (value: unknown): boolean | null => (typeof value === "boolean" ? value : null);
const list = (value: unknown): unknown[] | null => (Array.isArray(value) ? (value as unknown[]) : null);

/** USD rounded to 4 decimals: every dollar amount of the public API has at most 4. */
export const roundUsd = (usd: number): number => Math.round(usd * 10_000) / 10_000;

/** A RunPod `Pod` object to a PodInfo; null when it is not a pod (null data, no id). */
export function toPodInfo(raw: unknown): PodInfo | null {
  if (!isRecord(raw)) return null;
  const id = str(raw.id);
  if (id === null || id === "") return null;
  const machine = isRecord(raw.machine) ? raw.machine : null;
  const runtime = isRecord(raw.runtime) ? raw.runtime : null;
  const desiredStatus = str(raw.desiredStatus) ?? "";
  const gpuDisplayName = str(machine?.gpuDisplayName);
  const ports: PodPort[] = (list(runtime?.ports) ?? []).filter(isRecord).map((p) => ({
    ip: str(p.ip),
    isIpPublic: bool(p.isIpPublic) ?? false,
    privatePort: int(p.privatePort),
    publicPort: int(p.publicPort),
    type: str(p.type),
  }));
  return {
    id,
    name: str(raw.name) ?? "",
    status: mapPodStatus(desiredStatus, runtime !== null),
    desiredStatus,
    runtimeUp: runtime !== null,
    costPerHr: num(raw.costPerHr),
    // `uptimeSeconds` is what runpod-python/runpodctl/dstack select; runtime.uptimeInSeconds is the fallback.
    uptimeSeconds: Math.max(0, Math.floor(num(raw.uptimeSeconds) ?? num(runtime?.uptimeInSeconds) ?? 0)),
    gpuCount: int(raw.gpuCount) ?? 0,
    gpuType: gpuTypeFromDisplayName(gpuDisplayName) ?? null,
    gpuDisplayName,
    imageName: str(raw.imageName),
    lastStatusChange: str(raw.lastStatusChange),
    machineId: str(raw.machineId),
    podHostId: str(machine?.podHostId),
    ports,
  };
}

/** RunPod `myself.networkVolumes` entries to NetworkVolumes; malformed entries are skipped. */
export function toNetworkVolumes(raw: unknown): NetworkVolume[] {
  return (list(raw) ?? []).filter(isRecord).flatMap((v) => {
    const id = str(v.id);
    if (id === null || id === "") return [];
    return [{ id, name: str(v.name) ?? "", sizeGb: int(v.size) ?? 0, dataCenterId: str(v.dataCenterId) }];
  });
}

const positive = (value: number | null): number | null => (value !== null && value > 0 ? value : null);

/**
 * RunPod `gpuTypes` (with `lowestPrice` for the query's count and cloud) to offers, for our GpuTypes only:
 * RunPod's pseudo-type `unknown` and every type outside the enum are dropped. Pure.
 *
 * - Prices: `lowestPrice.uninterruptablePrice` / `minimumBidPrice` are per GPU per hour; when RunPod leaves them
 *   null we fall back to the list price of the cloud (`securePrice`/`communityPrice`, `...SpotPrice`). A price of
 *   0 means "not offered" in RunPod's listing and becomes null. The result is multiplied by `gpuCount` (whole
 *   pod) and rounded to 4 decimals.
 * - `available`: the type is offered in that cloud (`secureCloud`/`communityCloud` not false), `stockStatus` is
 *   neither null nor `None` (gpuhunt treats null as unavailable), the count is in `availableGpuCounts` when RunPod
 *   lists them (SkyPilot's `check_quota_available`; else at most `maxGpuCount`), and there is a price.
 * - Order: the enum's declaration order, one offer per GpuType.
 */
export function toGpuOffers(raw: unknown, query: GpuOfferQuery): GpuOffer[] {
  const secure = query.cloudType === CloudType.SECURE;
  const byType = new Map<GpuType, GpuOffer>();
  for (const t of (list(raw) ?? []).filter(isRecord)) {
    const gpuType = gpuTypeFromRunpodId(str(t.id));
    if (gpuType === undefined || byType.has(gpuType)) continue;
    const entry = gpuCatalogueEntry(gpuType);
    const lowest = isRecord(t.lowestPrice) ? t.lowestPrice : null;
    const cloudOffered = (secure ? bool(t.secureCloud) : bool(t.communityCloud)) !== false;
    const perGpu = cloudOffered
      ? (positive(num(lowest?.uninterruptablePrice)) ??
        positive(num(secure ? t.securePrice : t.communityPrice)))
      : null;
    const spotPerGpu = cloudOffered
      ? (positive(num(lowest?.minimumBidPrice)) ??
        positive(num(secure ? t.secureSpotPrice : t.communitySpotPrice)))
      : null;
    const stockStatus = str(lowest?.stockStatus);
    const counts = list(lowest?.availableGpuCounts);
    const maxGpuCount = int(t.maxGpuCount);
    const countOk =
      counts !== null
        ? counts.some((c) => int(c) === query.gpuCount)
        : maxGpuCount === null || query.gpuCount <= maxGpuCount;
    const pricePerHourUsd = perGpu === null ? null : roundUsd(perGpu * query.gpuCount);
    byType.set(gpuType, {
      gpuType,
      runpodGpuTypeId: entry.runpodGpuTypeId,
      displayName: str(t.displayName) ?? entry.displayName,
      memoryGb: int(t.memoryInGb) ?? entry.memoryGb,
      pricePerHourUsd,
      spotPricePerHourUsd: spotPerGpu === null ? null : roundUsd(spotPerGpu * query.gpuCount),
      stockStatus,
      available:
        cloudOffered &&
        stockStatus !== null &&
        stockStatus.trim().toLowerCase() !== "none" &&
        countOk &&
        pricePerHourUsd !== null,
    });
  }
  return ALL_GPU_TYPES.flatMap((gpuType) => {
    const offer = byType.get(gpuType);
    return offer === undefined ? [] : [offer];
  });
}

/** RunPod's create input for a spec. Optional fields are left out rather than sent as null. Pure. */
export function toCreatePodInput(spec: PodSpec, dataCenterId: string | undefined): Record<string, unknown> {
  return {
    name: spec.name,
    imageName: spec.imageName,
    gpuTypeId: runpodGpuTypeId(spec.gpuType),
    gpuCount: spec.gpuCount,
    // Our CloudType values are RunPod's CloudTypeEnum names; TrainGate never sends ALL: a pod runs in one of them.
    cloudType: spec.cloudType,
    volumeInGb: spec.volumeInGb,
    containerDiskInGb: spec.containerDiskInGb,
    volumeMountPath: spec.volumeMountPath,
    dockerArgs: spec.dockerArgs,
    // Input is [{key, value}]; RunPod answers it as ["K=V"].
    env: Object.entries(spec.env).map(([key, value]) => ({ key, value })),
    ports: spec.ports && spec.ports.length > 0 ? spec.ports.join(",") : undefined,
    networkVolumeId: spec.networkVolumeId,
    dataCenterId,
    terminateAfter: spec.terminateAfter?.toISOString(),
    stopAfter: spec.stopAfter?.toISOString(),
    // A host whose driver is older than the image's CUDA never starts the container. A custom image whose tag
    // names no CUDA version gets no constraint: what it needs cannot be known from its name.
    ...cudaHostConstraint(spec.imageName),
  };
}

/** One entry of a GraphQL `errors` array, reduced to what we branch on. */
export interface UpstreamGraphqlError {
  readonly message: string;
  /** `extensions.code` when RunPod sends one (e.g. `SUPPLY_CONSTRAINT`, `POD_NOT_FOUND`). */
  readonly code: string | null;
}

/** The `errors` array of a GraphQL answer, narrowed. */
export function readGraphqlErrors(raw: unknown): UpstreamGraphqlError[] {
  return (list(raw) ?? []).filter(isRecord).map((e) => ({
    message: str(e.message) ?? "",
    code: isRecord(e.extensions) ? str(e.extensions.code) : null,
  }));
}

/** What an upstream GraphQL error means to us. */
export type UpstreamErrorKind =
  /** No capacity (SUPPLY_CONSTRAINT, "no longer any instances available"): fall back to another spec, do not hammer. */
  | "capacity"
  /** The pod does not exist (any more). For terminate this is success: the pod is already gone. */
  | "not-found"
  /** The key is refused or lacks access; some refusals come as a 200 with a message (RunpodOllama#3). */
  | "auth"
  /** RunPod's own failure ("Something went wrong", INTERNAL_SERVER_ERROR): worth a retry on idempotent calls. */
  | "transient"
  /** Anything else: a request RunPod refused for a reason we do not recognise. */
  | "rejected";

const CAPACITY_PATTERNS = [
  /no longer any instances available/i,
  /no compatible cuda host/i,
  /not enough free gpus/i,
];

/** Classifies one upstream GraphQL error by RunPod's code, else by its known message. Pure. */
export function classifyGraphqlError(error: UpstreamGraphqlError): UpstreamErrorKind {
  const code = (error.code ?? "").toUpperCase();
  const message = error.message;
  if (code === "SUPPLY_CONSTRAINT" || CAPACITY_PATTERNS.some((p) => p.test(message))) return "capacity";
  if (code === "POD_NOT_FOUND" || /pod not found/i.test(message)) return "not-found";
  if (
    code === "UNAUTHENTICATED" ||
    code === "FORBIDDEN" ||
    /\bunauthori[sz]ed\b|\bforbidden\b|access denied/i.test(message)
  ) {
    return "auth";
  }
  if (code === "INTERNAL_SERVER_ERROR" || /something went wrong/i.test(message)) return "transient";
  return "rejected";
}

/**
 * An upstream message made safe to quote or log (only RunPod's capacity message is ever quoted to a caller):
 * every occurrence of each secret removed, control characters removed, whitespace collapsed, at most 200 chars.
 */
export function quotableUpstreamMessage(message: string, secrets: readonly (string | undefined)[]): string {
  let text = message;
  // Longest first, so that a secret containing another is removed whole.
  const sorted = secrets
    .filter((x): x is string => typeof x === "string" && x !== "")
    .sort((a, b) => b.length - a.length);
  for (const secret of sorted) text = text.split(secret).join("[redacted]");
  text = Array.from(text, (c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? " " : c))
    .join("")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/**
 * Strings worth redacting from anything RunPod echoes back: every string of 8 characters or more in `value`
 * (the client passes the env values, such as JOB_TOKEN, and the docker args). Shorter ones would garble messages.
 */
export function secretsIn(value: unknown, found: string[] = [], depth = 0): string[] {
  if (depth > 8) return found;
  if (typeof value === "string") {
    if (value.length >= 8) found.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value as unknown[]) secretsIn(item, found, depth + 1);
  } else if (isRecord(value)) {
    for (const item of Object.values(value)) secretsIn(item, found, depth + 1);
  }
  return found;
}

/** An upstream `extensions.code` when it looks like a code (short, upper snake case), else null. */
export function safeUpstreamCode(code: string | null): string | null {
  return code !== null && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : null;
}
