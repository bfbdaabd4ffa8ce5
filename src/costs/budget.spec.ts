import { budgetDecision, type BudgetInput, type BudgetStopReason } from "./budget";

const base: BudgetInput = {
  actualMicros: 0,
  budgetMicros: 5_000_000,
  perHourMicros: 360_000,
  intervalSeconds: 15,
  uptimeSeconds: 600,
  maxDurationMinutes: null,
  raised: new Set(),
  stopRequested: false,
};
const at = (percent: number, over: Partial<BudgetInput> = {}): BudgetInput => ({
  ...base,
  actualMicros: (base.budgetMicros * percent) / 100,
  ...over,
});

describe("budgetDecision", () => {
  it.each<
    [
      string,
      BudgetInput,
      { notify: number[]; requestStop: BudgetStopReason | null; terminate: BudgetStopReason | null },
    ]
  >([
    ["nothing below 50 %", at(49.9), { notify: [], requestStop: null, terminate: null }],
    ["50 % notifies", at(50), { notify: [50], requestStop: null, terminate: null }],
    [
      "a jump past three thresholds raises all three",
      at(91),
      { notify: [50, 80, 90], requestStop: null, terminate: null },
    ],
    [
      "a threshold fires once",
      at(85, { raised: new Set([50, 80]) }),
      { notify: [], requestStop: null, terminate: null },
    ],
    [
      "95 % asks the trainer to stop",
      at(95, { raised: new Set([50, 80, 90]) }),
      { notify: [], requestStop: "BUDGET_EXCEEDED", terminate: null },
    ],
    [
      "the next look past 100 % asks for a stop early",
      // 92 % now, and 15 s at $3600/h is another 15 $ = 300 % of a $5 budget
      at(92, { perHourMicros: 3_600_000_000, raised: new Set([50, 80, 90]) }),
      { notify: [], requestStop: "BUDGET_EXCEEDED", terminate: null },
    ],
    [
      "a stop is asked once",
      at(96, { raised: new Set([50, 80, 90, 95]), stopRequested: true }),
      { notify: [], requestStop: null, terminate: null },
    ],
    [
      "100 % terminates",
      at(100, { raised: new Set([50, 80, 90, 95]), stopRequested: true }),
      { notify: [], requestStop: null, terminate: "BUDGET_EXCEEDED" },
    ],
    [
      "100 % terminates even when nothing came before",
      at(130),
      {
        notify: [50, 80, 90],
        requestStop: "BUDGET_EXCEEDED",
        terminate: "BUDGET_EXCEEDED",
      },
    ],
    [
      "max duration: a stop one look before",
      at(10, { maxDurationMinutes: 10, uptimeSeconds: 590 }),
      { notify: [], requestStop: "MAX_DURATION", terminate: null },
    ],
    [
      "max duration reached terminates",
      at(10, { maxDurationMinutes: 10, uptimeSeconds: 600, stopRequested: true }),
      { notify: [], requestStop: null, terminate: "MAX_DURATION" },
    ],
  ])("%s", (_name, input, expected) => {
    expect(budgetDecision(input)).toEqual(expected);
  });
});
