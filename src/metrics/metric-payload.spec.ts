import { parseStatusBody } from "./metric-payload";

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
