import { PodStatus, mapPodStatus, parsePodEnv } from "./runpod-client";

describe("mapPodStatus", () => {
  it.each<[string | null | undefined, boolean, PodStatus]>([
    ["RUNNING", true, PodStatus.RUNNING],
    ["RUNNING", false, PodStatus.STARTING],
    ["running", true, PodStatus.RUNNING],
    [" RUNNING ", false, PodStatus.STARTING],
    ["CREATED", false, PodStatus.STARTING],
    ["CREATED", true, PodStatus.STARTING],
    ["RESTARTING", false, PodStatus.STARTING],
    ["RESTARTING", true, PodStatus.STARTING],
    ["EXITED", false, PodStatus.STOPPED],
    ["EXITED", true, PodStatus.STOPPED],
    ["PAUSED", false, PodStatus.STOPPED],
    ["TERMINATED", false, PodStatus.TERMINATED],
    ["TERMINATED", true, PodStatus.TERMINATED],
    ["SOMETHING_NEW", true, PodStatus.STARTING],
    ["", false, PodStatus.STARTING],
    [null, false, PodStatus.STARTING],
    [undefined, true, PodStatus.STARTING],
  ])("desiredStatus %p with runtime %p is %s", (desiredStatus, runtime, expected) => {
    expect(mapPodStatus(desiredStatus, runtime)).toBe(expected);
  });
});

describe("parsePodEnv", () => {
  it.each<[string, (string | null | undefined)[] | null | undefined, Record<string, string>]>([
    ["null", null, {}],
    ["undefined", undefined, {}],
    ["empty", [], {}],
    ["one pair", ["JOB_ID=abc"], { JOB_ID: "abc" }],
    ["value with =", ["TRAINGATE_CONFIG_B64=eyJhIjoxfQ=="], { TRAINGATE_CONFIG_B64: "eyJhIjoxfQ==" }],
    ["url with query", ["U=https://x/y?a=1&b=2"], { U: "https://x/y?a=1&b=2" }],
    ["empty value", ["EMPTY="], { EMPTY: "" }],
    ["no = is skipped", ["NOEQUALS", "A=1"], { A: "1" }],
    ["empty key is skipped", ["=value", "B=2"], { B: "2" }],
    ["nulls are skipped", [null, "C=3", undefined], { C: "3" }],
    ["later duplicate wins", ["D=1", "D=2"], { D: "2" }],
    ["newlines and quotes kept", ['S=a"b\nc$d'], { S: 'a"b\nc$d' }],
  ])("%s", (_name, input, expected) => {
    expect(parsePodEnv(input)).toEqual(expected);
  });

  it("keeps __proto__ as an own key, not a prototype", () => {
    const env = parsePodEnv(["__proto__=x", "A=1"]);
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(env, "__proto__")).toBe(true);
    expect(env.A).toBe("1");
  });
});
