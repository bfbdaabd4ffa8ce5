import { parsePoint, parseStatusBody } from "./metric-payload";

describe("parseStatusBody: a trainer's own stop reason", () => {
  it.each<[string, Record<string, unknown>, string | null]>([
    ["its budget deadline", { status: "stopped", reason: "budget_deadline" }, "budget_deadline"],
    ["its max-duration deadline", { status: "stopped", reason: "max_duration" }, "max_duration"],
    ["no reason", { status: "stopped" }, null],
    ["a reason this gateway does not know", { status: "stopped", reason: "preempted" }, null],
    ["a reason that is not a string", { status: "stopped", reason: { budget_deadline: true } }, null],
    ["a reason with a status other than stopped", { status: "completed", reason: "budget_deadline" }, null],
  ])("%s", (_name, body, expected) => {
    expect(parseStatusBody(body).reason).toBe(expected);
  });

  it("accepts a report whatever its reason says", () => {
    expect(parseStatusBody({ status: "stopped", reason: 42, message: "out of time" })).toEqual({
      status: "stopped",
      message: "out of time",
      artifactUri: null,
      reason: null,
    });
  });
});

describe("parsePoint: a non-finite loss, eval_loss or grad_norm, sent as a string (JSON has no NaN)", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["a NaN loss", { loss: "NaN" }, { loss: null, nonFinite: true }],
    ["an infinite eval_loss", { eval_loss: "Infinity" }, { evalLoss: null, nonFinite: true }],
    ["a -Infinity grad_norm", { grad_norm: "-Infinity" }, { gradNorm: null, nonFinite: true }],
    ["finite values", { loss: 1.5, grad_norm: 0.3 }, { loss: 1.5, gradNorm: 0.3, nonFinite: false }],
  ])("%s is stored as null and marked", (_name, values, expected) => {
    expect(parsePoint({ step: 1, ...values }, "body")).toMatchObject(expected);
  });

  it.each([
    ["learning_rate", "NaN"],
    ["loss", "nan"],
    ["loss", "inf"],
  ])("refuses %s = %j, naming the field", (key, value) => {
    expect(() => parsePoint({ step: 1, [key]: value }, "body")).toThrow(
      `body.${key}: must be a finite number`,
    );
  });
});
