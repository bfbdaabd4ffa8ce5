import type { MetricEvent } from "./metric-event";
import { TrainingMetric } from "./training-metric.entity";
import { BoundedChannel } from "../pubsub/channel";
import { MetricStream } from "./metric-stream";

const T = Date.now();
const event = (step: number, at = T + step): MetricEvent => ({
  jobId: "job",
  step,
  epoch: null,
  loss: 1 / (step + 1),
  evalLoss: null,
  learningRate: null,
  gradNorm: null,
  samplesPerSecond: null,
  elapsedSeconds: null,
  remainingSeconds: null,
  progress: null,
  gpuMemoryAllocatedGb: null,
  gpuMemoryReservedGb: null,
  gpuUtilizationPercent: null,
  recordedAt: new Date(at).toISOString(),
});
const row = (e: MetricEvent) =>
  Object.assign(new TrainingMetric(), { ...e, recordedAt: new Date(e.recordedAt) });

/** A stored history, read two rows per page as the stream asks for them. */
function storedHistory(events: MetricEvent[]) {
  return (after: number) =>
    Promise.resolve(
      events
        .filter((e) => e.step > after)
        .slice(0, 2)
        .map(row),
    );
}

async function stepOf(result: Promise<IteratorResult<TrainingMetric>>): Promise<number> {
  const next = await result;
  if (next.done === true) throw new Error("the stream ended");
  return next.value.step;
}

async function take(stream: MetricStream, n: number): Promise<number[]> {
  const steps: number[] = [];
  for (let i = 0; i < n; i++) steps.push(await stepOf(stream.next()));
  return steps;
}

describe("the afterStep seam", () => {
  it("replays history, then live points, dropping live repeats of replayed rows even when they arrive late", async () => {
    const stored = [1, 2, 3, 4].map((s) => event(s));
    const stream = new MetricStream(new BoundedChannel(100), 1, storedHistory(stored), 100);
    // Point 4 was committed (it is in the history) and its publication arrives during the replay; point 3's
    // publication trails and arrives only after the seam.
    stream.offer(stored[3]);
    expect(await take(stream, 3)).toEqual([2, 3, 4]);
    const next = stream.next(); // finds the history exhausted: the seam, then waits for live points
    await new Promise((resolve) => setImmediate(resolve));
    stream.offer(stored[2]); // late: already replayed
    stream.offer(event(5));
    expect(await stepOf(next)).toBe(5);
    await stream.return();
  });

  it("delivers a resent step (a resumed run) even when its step was replayed", async () => {
    const stored = [1, 2].map((s) => event(s));
    const stream = new MetricStream(new BoundedChannel(100), 0, storedHistory(stored), 100);
    expect(await take(stream, 2)).toEqual([1, 2]);
    stream.offer(event(2, T + 999)); // the same step, stored again later: a new point
    expect(await take(stream, 1)).toEqual([2]);
    await stream.return();
  });

  it("ends the stream when too many live points pile up during a replay", async () => {
    const stream = new MetricStream(new BoundedChannel(100), 0, storedHistory([event(1)]), 2);
    for (const s of [10, 11, 12]) stream.offer(event(s));
    expect(await take(stream, 1)).toEqual([1]);
    await expect(stream.next()).rejects.toThrow(/subscribe again/);
  });
});
