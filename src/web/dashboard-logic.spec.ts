import {
  budgetLevel,
  byteSize,
  deliveryDetail,
  deliveryOutcome,
  duration,
  inputFieldName,
  milliseconds,
  money,
  percent,
  trainingAlertTitle,
} from "./client/dashboard/format";
import { MetricHistory } from "./client/dashboard/metric-history";
import type { Metric } from "./client/dashboard/operations";

describe("dashboard formatting", () => {
  test.each([
    [0, "ok"],
    [79.99, "ok"],
    [80, "warning"],
    [99.99, "warning"],
    [100, "exceeded"],
    [130, "exceeded"],
  ] as const)("%d %% of the budget is %s", (used, level) => {
    expect(budgetLevel(used)).toBe(level);
  });

  test.each([
    [null, "—"],
    [-1, "—"],
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [300_000, "293.0 KiB"],
    [5 * 1024 * 1024 + 123, "5.0 MiB"],
    [4 * 1024 ** 3, "4.00 GiB"],
  ])("byteSize(%p) is %s", (bytes, text) => {
    expect(byteSize(bytes)).toBe(text);
  });

  test.each([
    [null, "—"],
    [0, "$0.00"],
    [0.0028, "$0.0028"],
    [0.1, "$0.10"],
    [4.2, "$4.20"],
    [1234.5, "$1234.50"],
  ])("money(%p) is %s", (usd, text) => {
    expect(money(usd)).toBe(text);
  });

  test.each([
    [null, "—"],
    [-1, "—"],
    [45, "45 s"],
    [480, "8 min 00 s"],
    [3723, "1 h 02 min"],
  ])("duration(%p) is %s", (seconds, text) => {
    expect(duration(seconds)).toBe(text);
  });

  test("percent", () => {
    expect(percent(84.2)).toBe("84 %");
    expect(percent(undefined)).toBe("—");
  });
});

describe("MetricHistory", () => {
  const point = (step: number, loss = 1): Metric => ({
    jobId: "job",
    step,
    epoch: null,
    loss,
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
    timestamp: "2026-01-01T00:00:00.000Z",
  });

  test.each([
    ["in order", [0, 10, 20], [0, 10, 20]],
    ["a resent step replaces the old point", [0, 10, 10, 20, 20], [0, 10, 20]],
    ["a late step is put in its place", [0, 20, 10, 30, 5], [0, 5, 10, 20, 30]],
  ])("%s", (_case, arriving, steps) => {
    const history = new MetricHistory();
    for (const step of arriving) history.upsert(point(step));
    expect(history.steps).toEqual(steps);
    expect(history.points.map((p) => p.step)).toEqual(steps);
    expect(history.lastStep).toBe(steps.at(-1));
  });

  test("keeps the newest value of a resent step", () => {
    const history = new MetricHistory();
    history.upsert(point(3, 2.5));
    history.upsert(point(3, 2.4));
    expect(history.latest?.loss).toBe(2.4);
  });

  test("resumes from -1 (every stored point) before anything arrived", () => {
    expect(new MetricHistory().lastStep).toBe(-1);
  });
});

describe("health alerts and webhook deliveries", () => {
  test.each([
    [
      { kind: "LOSS_NAN", step: 42, action: "STOPPING" },
      "Loss is not a number at step 42 — stopping the run",
    ],
    [{ kind: "LOSS_SPIKE", step: 7, action: "NOTIFIED" }, "Loss spike at step 7 — the run continues"],
    [{ kind: "STALLED", step: null, action: "NOTIFIED" }, "Training stalled — the run continues"],
    [{ kind: "OUT_OF_MEMORY", step: null, action: null }, "Out of GPU memory"],
  ] as const)("alert %p reads %s", (alert, text) => {
    expect(trainingAlertTitle(alert)).toBe(text);
  });

  test.each([
    [
      { statusCode: 200, deliveredAt: "2026-01-01T00:00:00Z" },
      { text: "HTTP 200", ok: true },
    ],
    [
      { statusCode: 500, deliveredAt: null },
      { text: "HTTP 500", ok: false },
    ],
    [
      { statusCode: null, deliveredAt: null },
      { text: "No answer", ok: false },
    ],
  ])("an attempt %p shows %p", (delivery, outcome) => {
    expect(deliveryOutcome(delivery)).toEqual(outcome);
  });

  test("an attempt's detail is its error, else its answer, on one line and cut short", () => {
    expect(deliveryDetail({ error: "timeout after 10 s", responseExcerpt: "ignored" })).toBe(
      "timeout after 10 s",
    );
    expect(deliveryDetail({ error: null, responseExcerpt: '{\n  "ok": true\n}' })).toBe('{ "ok": true }');
    expect(deliveryDetail({ error: null, responseExcerpt: null })).toBe("—");
    expect(deliveryDetail({ error: "x".repeat(200), responseExcerpt: null }, 10)).toBe(`${"x".repeat(9)}…`);
  });

  test.each([
    [85, "85 ms"],
    [1234, "1.2 s"],
    [null, "—"],
  ])("latency %p is %s", (ms, text) => {
    expect(milliseconds(ms)).toBe(text);
  });

  test.each([
    ["input.url", "url"],
    ["input.events", "events"],
    ["input", undefined],
    [undefined, undefined],
  ])("a BAD_USER_INPUT field %p points at the control %p", (path, name) => {
    expect(inputFieldName(path)).toBe(name);
  });
});
