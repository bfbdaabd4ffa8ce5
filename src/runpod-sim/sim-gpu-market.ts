/**
 * The simulator's GPU market: RunPod pod type ids, display names and memory as RunPod lists them, per-GPU hourly
 * prices and stock per cloud.
 *
 * Prices: where a value comes from the SkyPilot catalogue (A6000 0.49/0.33, L4 0.39/0.22,
 * A100 PCIe 1.64/0.82, A100 SXM 1.89, H100 PCIe 2.39/1.25, H200 3.59/2.29) it is used as the secure price; the rest
 * are plausible values of the same era, invented for the simulator. Community is cheaper; spot is cheaper still.
 * `speed` is a relative training throughput (RTX A4000 = 1), used by the simulated trainer's pacing.
 */

export type SimCloud = "SECURE" | "COMMUNITY";
export type StockStatus = "High" | "Medium" | "Low" | "None";

export interface SimGpuType {
  readonly id: string;
  readonly displayName: string;
  readonly manufacturer: string;
  readonly memoryInGb: number;
  readonly maxGpuCount: number;
  /** USD per GPU per hour; null: not offered in that cloud. */
  securePrice: number | null;
  communityPrice: number | null;
  secureSpotPrice: number | null;
  communitySpotPrice: number | null;
  /** Stock per cloud; `null` means RunPod reports no status (treated as unavailable by clients). */
  stock: Record<SimCloud, StockStatus | null>;
  /** Relative training throughput, RTX A4000 = 1. */
  readonly speed: number;
}

type Row = [
  id: string,
  displayName: string,
  memoryInGb: number,
  secure: number | null,
  community: number | null,
  secureSpot: number | null,
  communitySpot: number | null,
  secureStock: StockStatus,
  communityStock: StockStatus,
  speed: number,
];

const ROWS: readonly Row[] = [
  ["NVIDIA RTX A4000", "RTX A4000", 16, 0.25, 0.17, 0.13, 0.09, "High", "High", 1.0],
  ["NVIDIA RTX A4500", "RTX A4500", 20, 0.34, 0.19, 0.16, 0.11, "High", "Medium", 1.15],
  ["NVIDIA RTX A5000", "RTX A5000", 24, 0.36, 0.22, 0.18, 0.11, "High", "High", 1.3],
  ["NVIDIA RTX A6000", "RTX A6000", 48, 0.49, 0.33, 0.33, 0.25, "High", "High", 1.6],
  ["NVIDIA A40", "A40", 48, 0.44, 0.35, 0.24, 0.2, "Medium", "Low", 1.5],
  ["NVIDIA L4", "L4", 24, 0.39, 0.28, 0.22, 0.17, "High", "Medium", 0.9],
  ["NVIDIA L40", "L40", 48, 0.99, 0.69, 0.5, 0.4, "Low", "Low", 2.2],
  ["NVIDIA L40S", "L40S", 48, 0.86, 0.79, 0.43, 0.4, "Medium", "Medium", 2.4],
  ["NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", 20, 0.26, 0.2, 0.13, 0.1, "High", "High", 1.05],
  ["NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48, 0.77, 0.74, 0.4, 0.37, "Medium", "Medium", 2.3],
  ["NVIDIA GeForce RTX 3090", "RTX 3090", 24, 0.43, 0.22, 0.22, 0.11, "Low", "High", 1.4],
  ["NVIDIA GeForce RTX 4090", "RTX 4090", 24, 0.69, 0.34, 0.35, 0.2, "High", "High", 2.0],
  ["NVIDIA GeForce RTX 5090", "RTX 5090", 32, 0.94, 0.69, 0.5, 0.4, "Medium", "Medium", 2.8],
  ["NVIDIA A100 80GB PCIe", "A100 PCIe", 80, 1.64, 1.19, 0.82, 0.6, "Medium", "Low", 3.0],
  ["NVIDIA A100-SXM4-80GB", "A100 SXM", 80, 1.89, 1.39, 1.05, 0.79, "Medium", "Low", 3.3],
  ["NVIDIA H100 PCIe", "H100 PCIe", 80, 2.39, 1.99, 1.25, 1.05, "Low", "Low", 4.5],
  ["NVIDIA H100 80GB HBM3", "H100 SXM", 80, 2.69, 2.39, 1.75, 1.4, "Medium", "Low", 5.5],
  ["NVIDIA H100 NVL", "H100 NVL", 94, 2.79, 2.59, 1.6, 1.45, "Low", "Low", 5.2],
  ["NVIDIA H200", "H200 SXM", 141, 3.59, 3.29, 2.29, 2.0, "Low", "Low", 6.5],
  // Secure only: community price null, so `communityCloud: false`.
  ["NVIDIA B200", "B200", 180, 5.99, null, 3.59, null, "Low", "None", 9.0],
  // Types TrainGate does not offer: the client must ignore them.
  ["NVIDIA A30", "A30", 24, 0.22, 0.19, 0.12, 0.1, "Medium", "Medium", 1.2],
  ["NVIDIA GeForce RTX 3080", "RTX 3080", 10, null, 0.17, null, 0.09, "None", "Medium", 0.9],
  ["AMD Instinct MI300X OAM", "MI300X", 192, 2.49, null, 1.49, null, "Low", "None", 5.0],
];

/** A fresh, mutable market (each simulator owns its own, so tests can change prices and stock). */
export function createGpuMarket(): Map<string, SimGpuType> {
  const market = new Map<string, SimGpuType>();
  for (const [
    id,
    displayName,
    memoryInGb,
    secure,
    community,
    secureSpot,
    communitySpot,
    ss,
    cs,
    speed,
  ] of ROWS) {
    market.set(id, {
      id,
      displayName,
      manufacturer: id.startsWith("AMD") ? "AMD" : "Nvidia",
      memoryInGb,
      maxGpuCount: 8,
      securePrice: secure,
      communityPrice: community,
      secureSpotPrice: secureSpot,
      communitySpotPrice: communitySpot,
      stock: { SECURE: secure === null ? null : ss, COMMUNITY: community === null ? null : cs },
      speed,
    });
  }
  return market;
}

/**
 * RunPod lists a pseudo-type with id `unknown`; the docs generator and runpodctl filter it
 * out, and so must TrainGate. It is served by `gpuTypes` but cannot be deployed.
 */
export const UNKNOWN_GPU_TYPE_ID = "unknown";

/** The largest GPU count a deploy gets at a stock level (and what `availableGpuCounts` lists). */
export function maxCountForStock(stock: StockStatus | null, maxGpuCount: number): number {
  switch (stock) {
    case "High":
      return maxGpuCount;
    case "Medium":
      return Math.min(4, maxGpuCount);
    case "Low":
      return Math.min(2, maxGpuCount);
    case "None":
    case null:
      return 0;
  }
}

/** RunPod-style `availableGpuCounts`: the powers of two up to what the stock allows. */
export function availableGpuCounts(stock: StockStatus | null, maxGpuCount: number): number[] {
  const max = maxCountForStock(stock, maxGpuCount);
  return [1, 2, 4, 8].filter((n) => n <= max);
}

export function onDemandPrice(gpu: SimGpuType, cloud: SimCloud): number | null {
  return cloud === "SECURE" ? gpu.securePrice : gpu.communityPrice;
}

export function spotPrice(gpu: SimGpuType, cloud: SimCloud): number | null {
  return cloud === "SECURE" ? gpu.secureSpotPrice : gpu.communitySpotPrice;
}
