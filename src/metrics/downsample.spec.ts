import { lttb } from "./downsample";

describe("lttb", () => {
  it("keeps everything when there are fewer points than asked for", () => {
    expect(lttb([1, 2, 3], [5, 6, 7], 10)).toEqual([0, 1, 2]);
  });

  it("always keeps the first and the last point, and returns exactly `threshold` ascending indexes", () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i);
    const ys = xs.map((x) => Math.sin(x / 30));
    const kept = lttb(xs, ys, 50);
    expect(kept).toHaveLength(50);
    expect(kept[0]).toBe(0);
    expect(kept.at(-1)).toBe(999);
    expect([...kept].sort((a, b) => a - b)).toEqual(kept);
  });

  it("keeps a spike that uniform sampling would miss", () => {
    const xs = Array.from({ length: 10_000 }, (_, i) => i);
    const ys = xs.map((x) => (x === 4321 ? 50 : 2 - x / 10_000));
    expect(lttb(xs, ys, 100)).toContain(4321);
  });

  it("handles degenerate thresholds", () => {
    expect(lttb([], [], 5)).toEqual([]);
    expect(lttb([1, 2, 3, 4], [1, 2, 3, 4], 2)).toEqual([0, 3]);
  });
});
