import { takeTokens, type BucketState } from "./token-bucket";

const limits = { ratePerSecond: 2, burst: 5 };

describe("takeTokens", () => {
  it.each<[string, BucketState | undefined, number, number, BucketState, number]>([
    // name, before, now (ms), cost, after, waitMs
    ["a new bucket starts full", undefined, 1_000, 1, { tokens: 4, atMs: 1_000 }, 0],
    ["the last token goes", { tokens: 1, atMs: 1_000 }, 1_000, 1, { tokens: 0, atMs: 1_000 }, 0],
    [
      "an empty bucket waits for one token",
      { tokens: 0, atMs: 1_000 },
      1_000,
      1,
      { tokens: 0, atMs: 1_000 },
      500,
    ],
    ["tokens come back at the rate", { tokens: 0, atMs: 1_000 }, 1_500, 1, { tokens: 0, atMs: 1_500 }, 0],
    ["never past the burst", { tokens: 0, atMs: 0 }, 60_000, 1, { tokens: 4, atMs: 60_000 }, 0],
    [
      "a part token waits for the rest",
      { tokens: 0.5, atMs: 1_000 },
      1_000,
      1,
      { tokens: 0.5, atMs: 1_000 },
      250,
    ],
    ["a batch takes one per operation", { tokens: 5, atMs: 1_000 }, 1_000, 3, { tokens: 2, atMs: 1_000 }, 0],
    ["a refused batch takes nothing", { tokens: 2, atMs: 1_000 }, 1_000, 3, { tokens: 2, atMs: 1_000 }, 500],
    [
      "a clock that goes back adds nothing",
      { tokens: 1, atMs: 2_000 },
      1_000,
      1,
      { tokens: 0, atMs: 1_000 },
      0,
    ],
  ])("%s", (_name, before, now, cost, after, waitMs) => {
    expect(takeTokens(before, now, limits, cost)).toEqual({ state: after, waitMs });
  });
});
