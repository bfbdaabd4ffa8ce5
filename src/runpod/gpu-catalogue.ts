/**
 * TrainGate's GPU names (the public `GpuType` enum) and the exact RunPod pod `gpuTypeId` each maps to, with
 * each card's memory as RunPod's `gpuTypes` reports it.
 *
 * The ids are the pod type ids RunPod's `podFindAndDeployOnDemand` wants, never serverless pool ids such as
 * `AMPERE_16` (those are only for serverless endpoints; a pod created with one fails) and never the console's
 * display name: the H100 SXM is `NVIDIA H100 80GB HBM3`, and `NVIDIA A100-SXM4-80GB` has hyphens where
 * `NVIDIA A100 80GB PCIe` has spaces.
 *
 * Plain TypeScript enums: the GraphQL layer registers them with type-graphql.
 */
export enum GpuType {
  RTX_A4000 = "RTX_A4000",
  RTX_A4500 = "RTX_A4500",
  RTX_A5000 = "RTX_A5000",
  RTX_A6000 = "RTX_A6000",
  A40 = "A40",
  L4 = "L4",
  L40 = "L40",
  L40S = "L40S",
  RTX_4000_ADA = "RTX_4000_ADA",
  RTX_6000_ADA = "RTX_6000_ADA",
  RTX_3090 = "RTX_3090",
  RTX_4090 = "RTX_4090",
  RTX_5090 = "RTX_5090",
  A100_PCIE_80GB = "A100_PCIE_80GB",
  A100_SXM_80GB = "A100_SXM_80GB",
  H100_PCIE = "H100_PCIE",
  H100_SXM = "H100_SXM",
  H100_NVL = "H100_NVL",
  H200 = "H200",
  B200 = "B200",
}

/** Which RunPod cloud a pod is placed in. RunPod's `CloudTypeEnum` also has `ALL`, which TrainGate never sends. */
export enum CloudType {
  SECURE = "SECURE",
  COMMUNITY = "COMMUNITY",
}

/** How many GPUs one pod may have: RunPod places at most 8 on one machine. */
export const GPU_COUNT_RANGE = { min: 1, max: 8 } as const;

/** What TrainGate knows about one GPU type without asking RunPod. */
export interface GpuCatalogueEntry {
  readonly gpuType: GpuType;
  /** RunPod's pod `gpuTypeId`, exactly as RunPod spells it. */
  readonly runpodGpuTypeId: string;
  /** RunPod's `displayName` (what `machine.gpuDisplayName` shows on a pod). */
  readonly displayName: string;
  /** VRAM per GPU, GB. */
  readonly memoryGb: number;
}

const entry = (
  gpuType: GpuType,
  runpodGpuTypeId: string,
  displayName: string,
  memoryGb: number,
): GpuCatalogueEntry => Object.freeze({ gpuType, runpodGpuTypeId, displayName, memoryGb });

/** Every GpuType, keyed by itself. A `Record` over the enum, so adding an enum member without a row fails to compile. */
export const GPU_CATALOGUE: Readonly<Record<GpuType, GpuCatalogueEntry>> = Object.freeze({
  [GpuType.RTX_A4000]: entry(GpuType.RTX_A4000, "NVIDIA RTX A4000", "RTX A4000", 16),
  [GpuType.RTX_A4500]: entry(GpuType.RTX_A4500, "NVIDIA RTX A4500", "RTX A4500", 20),
  [GpuType.RTX_A5000]: entry(GpuType.RTX_A5000, "NVIDIA RTX A5000", "RTX A5000", 24),
  [GpuType.RTX_A6000]: entry(GpuType.RTX_A6000, "NVIDIA RTX A6000", "RTX A6000", 48),
  [GpuType.A40]: entry(GpuType.A40, "NVIDIA A40", "A40", 48),
  [GpuType.L4]: entry(GpuType.L4, "NVIDIA L4", "L4", 24),
  [GpuType.L40]: entry(GpuType.L40, "NVIDIA L40", "L40", 48),
  [GpuType.L40S]: entry(GpuType.L40S, "NVIDIA L40S", "L40S", 48),
  [GpuType.RTX_4000_ADA]: entry(GpuType.RTX_4000_ADA, "NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", 20),
  [GpuType.RTX_6000_ADA]: entry(GpuType.RTX_6000_ADA, "NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48),
  [GpuType.RTX_3090]: entry(GpuType.RTX_3090, "NVIDIA GeForce RTX 3090", "RTX 3090", 24),
  [GpuType.RTX_4090]: entry(GpuType.RTX_4090, "NVIDIA GeForce RTX 4090", "RTX 4090", 24),
  [GpuType.RTX_5090]: entry(GpuType.RTX_5090, "NVIDIA GeForce RTX 5090", "RTX 5090", 32),
  [GpuType.A100_PCIE_80GB]: entry(GpuType.A100_PCIE_80GB, "NVIDIA A100 80GB PCIe", "A100 PCIe", 80),
  [GpuType.A100_SXM_80GB]: entry(GpuType.A100_SXM_80GB, "NVIDIA A100-SXM4-80GB", "A100 SXM", 80),
  [GpuType.H100_PCIE]: entry(GpuType.H100_PCIE, "NVIDIA H100 PCIe", "H100 PCIe", 80),
  [GpuType.H100_SXM]: entry(GpuType.H100_SXM, "NVIDIA H100 80GB HBM3", "H100 SXM", 80),
  [GpuType.H100_NVL]: entry(GpuType.H100_NVL, "NVIDIA H100 NVL", "H100 NVL", 94),
  [GpuType.H200]: entry(GpuType.H200, "NVIDIA H200", "H200 SXM", 141),
  [GpuType.B200]: entry(GpuType.B200, "NVIDIA B200", "B200", 180),
});

/** Every GpuType in declaration order. */
export const ALL_GPU_TYPES: readonly GpuType[] = Object.freeze(Object.values(GpuType));

/** The catalogue row of a GpuType. */
export function gpuCatalogueEntry(gpuType: GpuType): GpuCatalogueEntry {
  return GPU_CATALOGUE[gpuType];
}

/** RunPod's pod `gpuTypeId` for a GpuType, e.g. `H100_SXM` -> `"NVIDIA H100 80GB HBM3"`. */
export function runpodGpuTypeId(gpuType: GpuType): string {
  return GPU_CATALOGUE[gpuType].runpodGpuTypeId;
}

const byRunpodId = new Map(ALL_GPU_TYPES.map((t) => [GPU_CATALOGUE[t].runpodGpuTypeId, t] as const));
const byDisplayName = new Map(ALL_GPU_TYPES.map((t) => [GPU_CATALOGUE[t].displayName, t] as const));

/**
 * The GpuType whose RunPod id is exactly `id`, or `undefined` for anything TrainGate does not offer (RunPod's
 * pseudo-type `unknown`, older or newer cards). Exact match on purpose: ids differ by a hyphen.
 */
export function gpuTypeFromRunpodId(id: string | null | undefined): GpuType | undefined {
  return id == null ? undefined : byRunpodId.get(id);
}

/** The GpuType whose RunPod display name is exactly `name` (what a pod's `machine.gpuDisplayName` shows). */
export function gpuTypeFromDisplayName(name: string | null | undefined): GpuType | undefined {
  return name == null ? undefined : byDisplayName.get(name);
}

/** Type guard for values that arrive as strings (configs, database rows). */
export function isGpuType(value: unknown): value is GpuType {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(GPU_CATALOGUE, value);
}

/** A whole number of GPUs within {@link GPU_COUNT_RANGE}. */
export function isGpuCount(value: unknown): value is number {
  return (
    Number.isInteger(value) &&
    (value as number) >= GPU_COUNT_RANGE.min &&
    (value as number) <= GPU_COUNT_RANGE.max
  );
}
