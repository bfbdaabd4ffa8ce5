import {
  ALL_GPU_TYPES,
  CloudType,
  GPU_CATALOGUE,
  GpuType,
  gpuTypeFromDisplayName,
  gpuTypeFromRunpodId,
  isGpuType,
  runpodGpuTypeId,
} from "./gpu-catalogue";

/** RunPod's pod type ids and memory per card, written out by hand: the catalogue must agree with them exactly. */
const RUNPOD_IDS: [GpuType, string, number][] = [
  [GpuType.RTX_A4000, "NVIDIA RTX A4000", 16],
  [GpuType.RTX_A4500, "NVIDIA RTX A4500", 20],
  [GpuType.RTX_A5000, "NVIDIA RTX A5000", 24],
  [GpuType.RTX_A6000, "NVIDIA RTX A6000", 48],
  [GpuType.A40, "NVIDIA A40", 48],
  [GpuType.L4, "NVIDIA L4", 24],
  [GpuType.L40, "NVIDIA L40", 48],
  [GpuType.L40S, "NVIDIA L40S", 48],
  [GpuType.RTX_4000_ADA, "NVIDIA RTX 4000 Ada Generation", 20],
  [GpuType.RTX_6000_ADA, "NVIDIA RTX 6000 Ada Generation", 48],
  [GpuType.RTX_3090, "NVIDIA GeForce RTX 3090", 24],
  [GpuType.RTX_4090, "NVIDIA GeForce RTX 4090", 24],
  [GpuType.RTX_5090, "NVIDIA GeForce RTX 5090", 32],
  [GpuType.A100_PCIE_80GB, "NVIDIA A100 80GB PCIe", 80],
  [GpuType.A100_SXM_80GB, "NVIDIA A100-SXM4-80GB", 80],
  [GpuType.H100_PCIE, "NVIDIA H100 PCIe", 80],
  [GpuType.H100_SXM, "NVIDIA H100 80GB HBM3", 80],
  [GpuType.H100_NVL, "NVIDIA H100 NVL", 94],
  [GpuType.H200, "NVIDIA H200", 141],
  [GpuType.B200, "NVIDIA B200", 180],
];

describe("GPU catalogue", () => {
  it("has exactly the 20 GpuType names of the public contract", () => {
    expect(ALL_GPU_TYPES).toEqual([
      "RTX_A4000",
      "RTX_A4500",
      "RTX_A5000",
      "RTX_A6000",
      "A40",
      "L4",
      "L40",
      "L40S",
      "RTX_4000_ADA",
      "RTX_6000_ADA",
      "RTX_3090",
      "RTX_4090",
      "RTX_5090",
      "A100_PCIE_80GB",
      "A100_SXM_80GB",
      "H100_PCIE",
      "H100_SXM",
      "H100_NVL",
      "H200",
      "B200",
    ]);
    expect(Object.keys(GPU_CATALOGUE)).toHaveLength(20);
  });

  it.each(RUNPOD_IDS)("%s maps to %p (%d GB) and back", (gpuType, id, memoryGb) => {
    expect(runpodGpuTypeId(gpuType)).toBe(id);
    expect(GPU_CATALOGUE[gpuType].memoryGb).toBe(memoryGb);
    expect(GPU_CATALOGUE[gpuType].gpuType).toBe(gpuType);
    expect(gpuTypeFromRunpodId(id)).toBe(gpuType);
    expect(gpuTypeFromDisplayName(GPU_CATALOGUE[gpuType].displayName)).toBe(gpuType);
  });

  it("never uses a serverless pool id or a display name as a gpuTypeId", () => {
    for (const gpuType of ALL_GPU_TYPES) {
      const id = runpodGpuTypeId(gpuType);
      expect(id).not.toMatch(/^(AMPERE|ADA|HOPPER|BLACKWELL)_\d+/);
      expect(id).toMatch(/^NVIDIA /);
    }
    expect(runpodGpuTypeId(GpuType.H100_SXM)).not.toBe("H100 SXM");
  });

  it.each<[string | null | undefined]>([
    ["unknown"],
    ["NVIDIA A100 SXM4 80GB"], // spaces where RunPod has hyphens
    ["NVIDIA A30"],
    ["AMPERE_16"],
    ["nvidia rtx a4000"],
    [""],
    [null],
    [undefined],
  ])("reverse lookup of %p is undefined", (id) => {
    expect(gpuTypeFromRunpodId(id)).toBeUndefined();
  });

  it("has unique ids and display names", () => {
    const ids = ALL_GPU_TYPES.map((t) => GPU_CATALOGUE[t].runpodGpuTypeId);
    const names = ALL_GPU_TYPES.map((t) => GPU_CATALOGUE[t].displayName);
    expect(new Set(ids).size).toBe(20);
    expect(new Set(names).size).toBe(20);
  });

  it("guards strings", () => {
    expect(isGpuType("H100_SXM")).toBe(true);
    expect(isGpuType("h100_sxm")).toBe(false);
    expect(isGpuType("toString")).toBe(false);
    expect(isGpuType(3)).toBe(false);
    expect(Object.values(CloudType)).toEqual(["SECURE", "COMMUNITY"]);
  });
});
