import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { POD_DOCKER_ARGS } from "../trainer/pod-bootstrap";
import { localWorkspaceState, mapContainerPaths } from "./local-pod";

describe("mapContainerPaths", () => {
  const map = (text: string) => mapContainerPaths(text, "/data/pod/container", "/data/pod/workspace");

  it.each([
    ["/workspace", "/data/pod/workspace"],
    ["/workspace/output", "/data/pod/workspace/output"],
    ["/opt/traingate", "/data/pod/container/opt/traingate"],
    ["exec bash /opt/traingate/bootstrap.sh'", "exec bash /data/pod/container/opt/traingate/bootstrap.sh'"],
    ["HOME=/workspace:/opt/traingate", "HOME=/data/pod/workspace:/data/pod/container/opt/traingate"],
    // Not container roots: left alone.
    ["/workspaces/x", "/workspaces/x"],
    ["/opt/traingate2", "/opt/traingate2"],
    ["/srv/workspace", "/srv/workspace"],
    ["https://example.com/workspace", "https://example.com/workspace"],
  ])("maps %s", (text, expected) => {
    expect(map(text)).toBe(expected);
  });

  it("maps every container path of the command the gateway sends, and nothing else", () => {
    const mapped = map(POD_DOCKER_ARGS);
    expect(mapped).not.toMatch(/[\s'"]\/opt\/traingate/);
    expect(mapped.replaceAll("/data/pod/container/opt/traingate", "/opt/traingate")).toBe(POD_DOCKER_ARGS);
  });
});

describe("localWorkspaceState", () => {
  it("reads the last complete checkpoint and the done marker of a finished run", () => {
    const workspace = mkdtempSync(path.join(os.tmpdir(), "traingate-local-ws-"));
    expect(localWorkspaceState(workspace)).toEqual({ checkpointStep: 0, completed: false });
    for (const [step, complete] of [
      [10, true],
      [20, true],
      [30, false], // being written: no trainer_state.json yet
    ] as const) {
      const dir = path.join(workspace, "checkpoints", "run-key", `checkpoint-${step}`);
      mkdirSync(dir, { recursive: true });
      if (complete) writeFileSync(path.join(dir, "trainer_state.json"), "{}");
    }
    expect(localWorkspaceState(workspace)).toEqual({ checkpointStep: 20, completed: false });
    mkdirSync(path.join(workspace, ".traingate"));
    writeFileSync(path.join(workspace, ".traingate", "done-job1"), "stopped\nTERMINATE\n");
    expect(localWorkspaceState(workspace).completed).toBe(false);
    writeFileSync(path.join(workspace, ".traingate", "done-job1"), "completed\nTERMINATE\n");
    expect(localWorkspaceState(workspace).completed).toBe(true);
  });
});
