import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { localPodPaths, processGroupAlive, processGroupMembers } from "./local-pod";
import { SimWorld, type SimPod } from "./sim-world";

/**
 * Local pods' processes and folders over a pod's life and the simulator's, with real processes (a shell and
 * `sleep`s standing in for bootstrap.sh and its children: the pod venv is not needed).
 */

/** A container that ignores SIGTERM, as a trainer still saving its checkpoint does, with a child in its group. */
const STUBBORN = `bash -c 'trap "" TERM; sleep 600 & sleep 600'`;

let root: string;
const worlds: SimWorld[] = [];

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "traingate-local-pods-"));
});

afterEach(async () => {
  await Promise.all(worlds.splice(0).map((world) => world.close()));
  rmSync(root, { recursive: true, force: true });
});

function newWorld(killGraceMs: number): SimWorld {
  const world = new SimWorld({
    speedFactor: 1,
    startupSeconds: 0,
    restartSeconds: 1,
    autoAccountPrefix: null,
    trainer: false,
    localPods: { python: "/bin/false", root },
    killGraceMs,
    logger: { debug: () => undefined, warn: () => undefined },
  });
  worlds.push(world);
  return world;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A pod whose container runs `command`, started; returns it with its process group id. */
async function runningPod(
  world: SimWorld,
  command: string,
  extra: Record<string, unknown> = {},
): Promise<{ pod: SimPod; pgid: number; folder: string }> {
  const account = world.addAccount();
  const pod = world.deploy(
    account,
    { gpuTypeId: "NVIDIA RTX A4000", imageName: "runpod/base:1.0.2", dockerArgs: command, ...extra },
    null,
  );
  world.tick();
  const pgid = world.localProcesses.get(pod.id)?.process().pid;
  if (pgid === null || pgid === undefined) throw new Error("the local pod did not start");
  // The shell and its background sleep are both up.
  await until("the container's processes", () => groupSize(pgid) >= 2);
  return { pod, pgid, folder: localPodPaths(root, pod.id).pod };
}

/** Live processes of group `pgid`. */
const groupSize = (pgid: number): number => processGroupMembers(pgid)?.length ?? 0;

const onLinux = process.platform === "linux" ? describe : describe.skip;

onLinux("local pods and the simulator's end", () => {
  it("close kills the process group of a pod still in its grace period after a stop, and waits for it", async () => {
    const world = newWorld(60_000);
    const { pod, pgid, folder } = await runningPod(world, STUBBORN);
    world.stop(pod, "Exited by User");
    expect(pod.trainer).toBeNull();
    // It ignores SIGTERM: within the grace period it still runs.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(processGroupAlive(pgid)).toBe(true);

    await world.close();
    expect(processGroupAlive(pgid)).toBe(false);
    expect(groupSize(pgid)).toBe(0);
    // Nothing can resume that pod any more: its folder (volume included) is gone.
    expect(existsSync(folder)).toBe(false);
  });

  it("a running pod's folder goes at close, and a new simulator removes folders nobody owns any more", async () => {
    const first = newWorld(60_000);
    const running = await runningPod(first, STUBBORN);
    await first.close();
    expect(processGroupAlive(running.pgid)).toBe(false);
    expect(existsSync(running.folder)).toBe(false);

    // What a simulator that never closed (killed, crashed) leaves: a folder naming a process that is gone, and
    // one naming none; and a folder of a simulator of this process that is still open.
    const pods = path.join(root, "pods");
    const dead = spawnSync("true").pid;
    for (const [podId, owner] of [
      ["crashed", String(dead)],
      ["unowned", null],
      ["sibling", String(process.pid)],
    ] as const) {
      mkdirSync(path.join(pods, podId, "workspace"), { recursive: true });
      if (owner !== null) writeFileSync(path.join(pods, podId, ".simulator-pid"), `${owner}\n`);
    }
    newWorld(60_000);
    expect(readdirSync(pods).sort()).toEqual(["sibling"]);
  });
});

onLinux("terminating a stopped local pod", () => {
  it("whose container is still in its grace period: the disk goes once its processes are gone", async () => {
    const world = newWorld(300);
    const { pod, pgid, folder } = await runningPod(world, STUBBORN);
    world.stop(pod, "Exited by User");
    world.terminate(pod, "Terminated by User");
    // Not under its feet: its processes still run, and still have their disk.
    expect(processGroupAlive(pgid)).toBe(true);
    expect(existsSync(folder)).toBe(true);
    await until(
      "the pod's processes and folder to be gone",
      () => !processGroupAlive(pgid) && !existsSync(folder),
    );
  });
});

onLinux("terminateAfter with a local pod", () => {
  it("RunPod deletes the pod at its terminateAfter time: its process group is killed and its folder removed", async () => {
    const world = newWorld(300);
    const terminateAfter = new Date(Date.now() + 3_600_000).toISOString();
    const { pod, pgid, folder } = await runningPod(world, STUBBORN, { terminateAfter });
    expect(existsSync(path.join(folder, "workspace"))).toBe(true);
    world.tick();
    expect(pod.desiredStatus).toBe("RUNNING");

    world.clock.advance(3_600_000 + 1_000);
    world.tick();
    expect(pod.desiredStatus).toBe("TERMINATED");
    expect(pod.endReason).toBe("Terminated by RunPod (terminateAfter)");
    // SIGTERM is ignored; SIGKILL after the grace period ends the group, then the disk goes.
    await until(
      "the pod's processes and folder to be gone",
      () => !processGroupAlive(pgid) && !existsSync(folder),
    );
    expect(world.localProcesses.get(pod.id)?.process()).toMatchObject({ running: false, signal: "SIGKILL" });
  });
});
