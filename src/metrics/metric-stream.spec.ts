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

  it("delivers a step redone after the job's restart marker even when its step was replayed", async () => {
    const stored = [1, 2].map((s) => event(s));
    const stream = new MetricStream(new BoundedChannel(100), 0, storedHistory(stored), 100);
    expect(await take(stream, 2)).toEqual([1, 2]);
    stream.offer(event(2, T + 999)); // stored again later, before the run said it restarted: late
    stream.restart();
    stream.offer(event(2, T + 1_000)); // redone after the restart
    expect(await take(stream, 1)).toEqual([2]);
    await stream.return();
  });

  it("keeps a restart marker that arrives during the replay in line with the live points around it", async () => {
    const stored = [1, 2, 3, 4].map((s) => event(s));
    const stream = new MetricStream(new BoundedChannel(100), 0, storedHistory(stored), 100);
    stream.offer(event(3, T + 500)); // before the marker: lower than the replay's last step, not delivered
    stream.restart();
    stream.offer(event(2, T + 600)); // the run's redone steps
    stream.offer(event(3, T + 700));
    expect(await take(stream, 6)).toEqual([1, 2, 3, 4, 2, 3]);
    stream.offer(event(3, T + 800)); // a late resend after the redone step 3
    stream.offer(event(5));
    expect(await take(stream, 1)).toEqual([5]);
    await stream.return();
  });

  it("ends the stream when too many live points pile up during a replay", async () => {
    const stream = new MetricStream(new BoundedChannel(100), 0, storedHistory([event(1)]), 2);
    for (const s of [10, 11, 12]) stream.offer(event(s));
    expect(await take(stream, 1)).toEqual([1]);
    await expect(stream.next()).rejects.toThrow(/subscribe again/);
  });
});

describe("the order of delivered steps", () => {
  it("never delivers a live point at or below the highest step delivered, and counts it", async () => {
    let late = 0;
    const stream = new MetricStream(new BoundedChannel(100), null, storedHistory([]), 100, () => late++);
    for (const s of [2, 5, 3, 5, 6, 1, 8]) stream.offer(event(s, T + s * 10 + late));
    expect(await take(stream, 4)).toEqual([2, 5, 6, 8]);
    expect(late).toBe(3);
    await stream.return();
  });

  it("counts a replay's end as delivered: a live point at or below afterStep or the last replayed step waits for a replay", async () => {
    const replayed = new MetricStream(new BoundedChannel(100), 0, storedHistory([event(1), event(4)]), 100);
    replayed.offer(event(3, T + 999));
    replayed.offer(event(6));
    expect(await take(replayed, 3)).toEqual([1, 4, 6]);
    await replayed.return();
    const none = new MetricStream(new BoundedChannel(100), 10, storedHistory([]), 100);
    none.offer(event(9));
    none.offer(event(11));
    expect(await take(none, 1)).toEqual([11]);
    await none.return();
  });
});
