import { PodStatus, mapPodStatus } from "./runpod-client";

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
