import { gpuMemoryHigh, isOutOfMemory, lossSpike, stallDecision, type HealthPoint } from "./health-rules";

const point = (step: number, loss: number | null, reservedGb: number | null = null): HealthPoint => ({
  step,
  loss,
  gpuMemoryAllocatedGb: null,
  gpuMemoryReservedGb: reservedGb,
});
/** `n` points from step 0 with the given losses, cycled. */
const run = (n: number, losses: number[]) =>
  Array.from({ length: n }, (_, i) => point(i, losses[i % losses.length]));

describe("lossSpike: a point above 3x the median of the last 20 finite losses, after at least 10", () => {
  it.each<[string, HealthPoint[], HealthPoint[], number | null]>([
    ["a steady run", run(20, [2, 2.1, 1.9]), [point(20, 2.2)], null],
    ["a jump to 7x", run(20, [2, 2.1, 1.9]), [point(20, 14)], 20],
    ["exactly 3x is not over it", run(20, [2]), [point(20, 6)], null],
    ["too little history: 9 points", run(9, [2]), [point(9, 14)], null],
    ["10 points are enough", run(10, [2]), [point(10, 14)], 10],
    ["null losses do not count as history", [...run(9, [2]), point(9, null)], [point(10, 14)], null],
    ["the spike inside a batch is found", run(12, [2]), [point(12, 2), point(13, 9), point(14, 2)], 13],
    [
      "the window is the last 20: an old high median is forgotten",
      [...run(20, [10]), ...run(20, [1]).map((p) => ({ ...p, step: p.step + 20 }))],
      [point(40, 3.5)],
      40,
    ],
  ])("%s", (_name, history, fresh, step) => {
    expect(lossSpike(history, fresh)?.step ?? null).toBe(step);
  });
});

describe("gpuMemoryHigh: within 2 % of the cards for 3 reporting points in a row", () => {
  const memory = (values: (number | null)[]) => values.map((gb, i) => point(i, 1, gb));
  it.each<[string, (number | null)[], number, number | null]>([
    ["well below", [10, 11, 12, 12], 16, null],
    ["3 in a row at 15.7 of 16 GB", [12, 15.7, 15.8, 15.9], 16, 3],
    ["2 in a row, then a dip", [15.9, 15.9, 12, 15.9], 16, null],
    ["points without memory do not break a run", [15.9, null, 15.9, 15.9], 16, 3],
    ["2 GPUs: the capacity doubles", [15.9, 15.9, 15.9], 32, null],
    ["no card known", [15.9, 15.9, 15.9], 0, null],
  ])("%s", (_name, values, capacity, step) => {
    expect(gpuMemoryHigh(memory(values), capacity)?.step ?? null).toBe(step);
  });
});

describe("isOutOfMemory: the trainer's failure message, classified", () => {
  it.each<[string | null, boolean]>([
    ["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", true],
    ["RuntimeError: CUDA error: out of memory", true],
    ["torch.cuda.OutOfMemoryError: ...", true],
    ["RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`", true],
    ["ValueError: dataset has no 'text' column", false],
    ["the dataset download failed: 404", false],
    [null, false],
  ])("%s", (message, expected) => {
    expect(isOutOfMemory(message)).toBe(expected);
  });
});

describe("stallDecision: the alert at 10 minutes (or the stop window if shorter), the stop at the window", () => {
  const minutes = (m: number) => m * 60_000;
  it.each<[number, number, string]>([
    [5, 30, "none"],
    [10, 30, "alert"],
    [29.9, 30, "alert"],
    [30, 30, "stop"],
    [3, 5, "none"],
    [5, 5, "stop"],
    [60, 0, "alert"],
    [9, 0, "none"],
  ])("silent %d min, window %d: %s", (silent, window, expected) => {
    expect(stallDecision(minutes(silent), window)).toBe(expected);
  });
});
