import {
  accrue,
  accruedMicros,
  EMPTY_ACCRUAL,
  runningMicrosPerHour,
  secondsAffordable,
  type Accrual,
  type Observation,
} from "./pricing";

const T0 = new Date("2026-11-28T12:00:00.000Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const start: Accrual = { ...EMPTY_ACCRUAL, observedAt: T0 };
const noDisks = { volumeGb: 0, containerGb: 0 };
const run = (seconds: number, uptime: number, price: number, runtimeUp = true): Observation => ({
  at: at(seconds),
  state: runtimeUp ? "RUNNING" : "STARTING",
  podUptimeSeconds: uptime,
  runtimeUp,
  costPerHourMicros: price,
});

function replay(observations: Observation[], disks = noDisks): Accrual {
  return observations.reduce((a, o) => accrue(a, o, disks), start);
}

describe("GPU accrual from uptime x price, per second", () => {
  it.each<[string, Observation[], number, number]>([
    // name, observations, billed seconds, micro-dollars (hand-computed)
    ["one hour of an A4000 at $0.17/h", [run(3600, 3600, 170_000)], 3600, 170_000],
    ["one second at $3.59/h", [run(1, 1, 3_590_000)], 1, 997], // 3.59 / 3600 = 0.000997222 -> 997
    [
      "90 s at $0.17/h, seen in three looks",
      [run(30, 30, 170_000), run(60, 60, 170_000), run(90, 90, 170_000)],
      90,
      4250,
    ],
    ["8 x H200 ($28.72/h) for 15 minutes", [run(900, 900, 28_720_000)], 900, 7_180_000],
    [
      "a container restart: uptime drops and counts again from 0",
      [run(60, 60, 360_000), run(120, 20, 360_000)],
      80,
      8000,
    ],
    [
      "image pull without runtime bills wall-clock time, then uptime",
      [run(40, 0, 360_000, false), run(100, 60, 360_000)],
      100,
      10_000,
    ],
    ["a price change mid-run", [run(3600, 3600, 100_000), run(7200, 7200, 200_000)], 7200, 300_000],
  ])("%s", (_name, observations, seconds, micros) => {
    const result = replay(observations);
    expect(result.uptimeSeconds).toBe(seconds);
    expect(accruedMicros(result)).toBe(micros);
  });

  it("never decreases and ignores a repeated look", () => {
    const once = replay([run(60, 60, 170_000)]);
    const twice = accrue(once, run(60, 60, 170_000), noDisks);
    expect(accruedMicros(twice)).toBe(accruedMicros(once));
  });
});

describe("storage", () => {
  const disks = { volumeGb: 20, containerGb: 20 };
  it("bills volume and container disk at $0.10/GB-month while running", () => {
    // 40 GB x 730 h x $0.10 / 730 h: one hour of 40 GB running = 40 x 100000 / 730 = 5479.45 -> 5479
    const result = replay([run(3600, 3600, 0)], disks);
    expect(accruedMicros(result)).toBe(5479);
  });

  it("bills only the volume, at $0.20/GB-month, while stopped", () => {
    const stopped = accrue(
      start,
      { at: at(3600), state: "STOPPED", podUptimeSeconds: 0, runtimeUp: false, costPerHourMicros: 0 },
      disks,
    );
    // 20 GB x $0.20 / 730 h = 5479.45 micro-dollars per hour
    expect(accruedMicros(stopped)).toBe(5479);
    expect(stopped.uptimeSeconds).toBe(0);
  });

  it("adds GPU and storage before rounding once", () => {
    const result = replay([run(3600, 3600, 170_000)], disks);
    expect(accruedMicros(result)).toBe(170_000 + 5479);
  });

  it("stays exact over a month of 8 GPUs", () => {
    const month = 730 * 3600;
    const result = replay([run(month, month, 28_720_000)], { volumeGb: 1000, containerGb: 500 });
    // 730 h x $28.72 + 1500 GB x $0.10
    expect(accruedMicros(result)).toBe(730 * 28_720_000 + 1500 * 100_000);
  });
});

describe("budget arithmetic", () => {
  it.each([
    [5_000_000, 170_000, 105_882], // $5 at $0.17/h: 29.41 h
    [50_000, 360_000, 500], // $0.05 at $0.36/h: 500 s
    [1_000_000, 0, 0],
  ])("%d micro-dollars at %d per hour last %d seconds", (budget, perHour, seconds) => {
    expect(secondsAffordable(budget, perHour)).toBe(seconds);
  });

  it("counts storage into the running price", () => {
    expect(runningMicrosPerHour(170_000, { volumeGb: 20, containerGb: 20 })).toBe(175_479);
  });
});
