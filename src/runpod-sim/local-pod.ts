import { type ChildProcess, spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { TrainerState } from "./simulated-trainer";

/** How the simulator runs pods as local processes (`RUNPOD_SIMULATOR_TRAINER=real`). */
export interface LocalPodOptions {
  /** The Python that trains: the pod venv's (torch, transformers, peft...). Nothing is pip-installed. */
  readonly python: string;
  /** Folder for pods' disks, their logs and the local models (created). */
  readonly root: string;
  /** Variables added to every local pod's environment (tuning for tests: flush intervals, retry bases). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Real ms between SIGTERM and SIGKILL when a pod is stopped or terminated, as `docker stop` gives a container. */
export const DEFAULT_KILL_GRACE_MS = 10_000;

/** The pod a local process runs for, as the simulator exposes it. */
export interface LocalPodHost {
  readonly podId: string;
  /** The container's environment: the pod's env plus RunPod's injected RUNPOD_* variables. */
  readonly env: Readonly<Record<string, string>>;
  /** The container command the gateway sent (`dockerArgs`). */
  readonly dockerArgs: string | null;
  /** The simulator's REST v1 base URL (stands in for https://rest.runpod.io/v1). */
  readonly restUrl: string;
  /** The simulator's Hub stand-in (`HF_ENDPOINT` of the pod): local datasets. */
  readonly hubUrl: string;
  /** The hub cache holding the local models (`HF_HUB_CACHE` of the pod). */
  readonly hubCache: string;
  /** The container's main process ended without ending the pod: RunPod restarts the container. */
  containerExited(reason: string): void;
  log(fields: Record<string, unknown>, msg: string): void;
}

/** A local pod's process, for tests and the control API. */
export interface LocalProcessState {
  readonly pid: number | null;
  readonly running: boolean;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The container's output (stdout and stderr), kept after the pod is gone. */
  readonly logFile: string;
}

/** Container paths the command and the env may name, and where they live for a local pod. */
const CONTAINER_ROOTS = ["/workspace", "/opt/traingate"] as const;

/** The file in a local pod's folder naming the process id of the simulator that made it. */
const OWNER_FILE = ".simulator-pid";

/** The folders of one local pod: its volume (kept across stop/resume), its container disk, its logs. */
export function localPodPaths(
  root: string,
  podId: string,
): { pod: string; workspace: string; container: string; logs: string } {
  const pod = path.join(root, "pods", podId);
  return {
    pod,
    workspace: path.join(pod, "workspace"),
    container: path.join(pod, "container"),
    logs: path.join(root, "logs"),
  };
}

/**
 * One container run of a pod as a local process: the container command the gateway sent (`bash -c '…unpack
 * the bundle…; exec bash /opt/traingate/bootstrap.sh'`) with the container's `/workspace` and `/opt/traingate`
 * mapped to folders of this pod, in its own process group, with the environment RunPod gives a container plus
 * what a machine without RunPod's image needs: the pod venv's Python (TRAINGATE_PYTHON; `TRAINGATE_PIP=true`, so
 * nothing is installed and nothing is downloaded), the simulator's REST v1 (RUNPOD_REST_URL) and Hub stand-in
 * (HF_ENDPOINT), and the local models' hub cache, offline. Nothing else of the simulator's own environment
 * reaches it.
 *
 * Stopping (`podStop`, `stopAfter`) and terminating send SIGTERM to the container's main process, as `docker stop`
 * does, and SIGKILL to its whole process group after the grace period; a terminated pod's disk is deleted once
 * its processes are gone.
 */
export class LocalPod {
  private child: ChildProcess | null = null;
  private ending: "stop" | "terminate" | "close" | null = null;
  private exitCode: number | null = null;
  private exitSignal: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private resolveGone: () => void = () => undefined;
  /** Resolves once the container's main process has exited (at once when none was started). */
  readonly gone: Promise<void> = new Promise((resolve) => (this.resolveGone = resolve));
  readonly logFile: string;
  private readonly paths: ReturnType<typeof localPodPaths>;

  constructor(
    private readonly host: LocalPodHost,
    private readonly options: LocalPodOptions & { readonly killGraceMs: number },
    run: number,
  ) {
    this.paths = localPodPaths(options.root, host.podId);
    this.logFile = path.join(this.paths.logs, `${host.podId}.${run}.log`);
  }

  /** Starts the container's command (a fresh container disk, the pod's volume as it was). */
  start(): void {
    const { workspace, container, logs } = this.paths;
    rmSync(container, { recursive: true, force: true });
    for (const dir of [workspace, container, path.join(container, "tmp"), logs]) {
      mkdirSync(dir, { recursive: true });
    }
    writeFileSync(path.join(this.paths.pod, OWNER_FILE), `${process.pid}\n`);
    const command = this.host.dockerArgs;
    if (command === null || command.trim() === "") {
      // An image's own start command is not modelled: the container idles, as a plain image would.
      this.host.log({ podId: this.host.podId }, "local pod: no container command; idling");
      this.resolveGone();
      return;
    }
    const map = (text: string): string => mapContainerPaths(text, container, workspace);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.host.env)) env[key] = map(value);
    Object.assign(env, {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: container,
      TMPDIR: path.join(container, "tmp"),
      LANG: "C.UTF-8",
      TRAINGATE_WORKSPACE: workspace,
      TRAINGATE_PYTHON: this.options.python,
      TRAINGATE_PIP: "true",
      RUNPOD_REST_URL: this.host.restUrl,
      HF_ENDPOINT: this.host.hubUrl,
      HF_HUB_CACHE: this.host.hubCache,
      HF_HUB_OFFLINE: "1",
      TRANSFORMERS_OFFLINE: "1",
      HF_HUB_DISABLE_TELEMETRY: "1",
      OMP_NUM_THREADS: "1",
      TOKENIZERS_PARALLELISM: "false",
      PYTHONDONTWRITEBYTECODE: "1",
      ...this.options.env,
    });
    const out = createWriteStream(this.logFile, { flags: "a" });
    const child = spawn("/bin/sh", ["-c", `exec ${map(command)}`], {
      cwd: workspace,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    child.on("error", (error) => {
      this.host.log({ podId: this.host.podId, err: error.message }, "local pod: could not start");
      if (child.pid === undefined) this.resolveGone();
    });
    child.on("exit", (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      if (this.killTimer !== null) clearTimeout(this.killTimer);
      this.killGroup("SIGKILL"); // whatever it left behind in its group
      const ending = this.ending;
      child.once("close", () => out.end());
      this.host.log({ podId: this.host.podId, code, signal }, "local pod: container exited");
      if (ending === "terminate") {
        rmSync(this.paths.pod, { recursive: true, force: true });
      } else if (ending === null) {
        this.host.containerExited(`exit ${code ?? signal ?? "?"}`);
      }
      this.resolveGone();
    });
    this.host.log({ podId: this.host.podId, pid: child.pid, log: this.logFile }, "local pod: started");
  }

  /**
   * The simulator is shutting down: the whole process group is killed at once, grace period or not, and this
   * resolves once none of its processes is left (or after `timeoutMs`).
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.child === null) return;
    this.kill("close");
    const pgid = this.child.pid;
    const deadline = Date.now() + timeoutMs;
    await Promise.race([this.gone, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    while (pgid !== undefined && processGroupAlive(pgid) && Date.now() < deadline) {
      this.killGroup("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Local processes move by themselves. */
  tick(): void {}

  /**
   * The container is going away: SIGTERM to its main process now, SIGKILL to its group after the grace period. `terminate`
   * also deletes the pod's disk; `close` (the simulator shutting down) kills at once and keeps the files.
   */
  kill(how: "stop" | "terminate" | "close" = "stop"): void {
    if (this.ending !== null && !(how === "terminate" || how === "close")) return;
    const previous = this.ending;
    this.ending = how === "close" && previous === "terminate" ? "terminate" : how;
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) {
      if (how === "terminate") rmSync(this.paths.pod, { recursive: true, force: true });
      return;
    }
    if (how === "close") {
      this.killGroup("SIGKILL");
      return;
    }
    if (previous === null) {
      // The main process only, as `docker stop` does: bootstrap.sh passes it on to the trainer. A SIGTERM to the
      // whole group would also end the `tee` that carries train.py's output, and train.py with a broken pipe.
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    if (this.killTimer === null) {
      this.killTimer = setTimeout(() => this.killGroup("SIGKILL"), this.options.killGraceMs);
      this.killTimer.unref();
    }
  }

  state(): TrainerState | null {
    return null;
  }

  process(): LocalProcessState {
    const child = this.child;
    return {
      pid: child?.pid ?? null,
      running: child !== null && child.exitCode === null && child.signalCode === null,
      exitCode: this.exitCode,
      signal: this.exitSignal,
      logFile: this.logFile,
    };
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone
    }
  }
}

/**
 * Whether a process of group `pgid` is still alive (a zombie waiting for its parent counts as gone): read from
 * /proc where there is one, else from `kill(-pgid, 0)`.
 */
export function processGroupAlive(pgid: number): boolean {
  const members = processGroupMembers(pgid);
  if (members !== null) return members.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The live (not zombie) processes of group `pgid`, from /proc; null where there is no /proc. */
export function processGroupMembers(pgid: number): number[] | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") members.push(Number(entry));
  }
  return members;
}

/**
 * Removes the pod folders under `root` that no running simulator owns: a simulator keeps its pods in memory
 * only, so a folder whose simulator (named in the folder) is no longer running belongs to a pod nothing can
 * stop, resume or terminate any more. Folders of this process's simulators are left to their `close`; folders
 * of another live process's simulator (sharing the root) are left alone. Returns the pod ids removed.
 */
export function removeAbandonedPodFolders(root: string): string[] {
  const pods = path.join(root, "pods");
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(pods);
  } catch {
    return removed; // no pods yet
  }
  for (const podId of entries) {
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(path.join(pods, podId, OWNER_FILE), "utf8").trim());
    } catch {
      // no owner recorded: nothing can claim it
    }
    if (Number.isInteger(owner) && owner > 0 && (owner === process.pid || processAlive(owner))) continue;
    rmSync(path.join(pods, podId), { recursive: true, force: true });
    removed.push(podId);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `text` with the container paths (`/workspace`, `/opt/traingate`) at word starts mapped to the pod's folders. */
export function mapContainerPaths(text: string, container: string, workspace: string): string {
  let mapped = text;
  for (const root of CONTAINER_ROOTS) {
    const target = root === "/workspace" ? workspace : path.join(container, root);
    const pattern = new RegExp(`(^|[\\s'"=:;])${root.replace(/\//g, "\\/")}(?=$|[/\\s'";:])`, "g");
    mapped = mapped.replace(pattern, (_m, before: string) => `${before}${target}`);
  }
  return mapped;
}

/** What a local pod's volume shows: the last complete checkpoint's step, and whether the run finished. */
export function localWorkspaceState(workspace: string): { checkpointStep: number; completed: boolean } {
  let checkpointStep = 0;
  const checkpoints = path.join(workspace, "checkpoints");
  try {
    for (const run of readdirSync(checkpoints)) {
      for (const entry of readdirSync(path.join(checkpoints, run))) {
        const match = /^checkpoint-(\d+)$/.exec(entry);
        if (match && existsSync(path.join(checkpoints, run, entry, "trainer_state.json"))) {
          checkpointStep = Math.max(checkpointStep, Number(match[1]));
        }
      }
    }
  } catch {
    // no checkpoints yet
  }
  let completed = false;
  try {
    for (const entry of readdirSync(path.join(workspace, ".traingate"))) {
      if (!entry.startsWith("done-")) continue;
      const outcome = readFileSync(path.join(workspace, ".traingate", entry), "utf8").split("\n")[0];
      if (outcome === "completed") completed = true;
    }
  } catch {
    // not finished
  }
  return { checkpointStep, completed };
}

/**
 * The pod venv's Python: `bash trainer-scripts/pod-venv.sh` creates the venv on first use (pip downloads torch's
 * CPU build and trainer-scripts/requirements.txt: a few minutes, once) and prints its interpreter.
 * `TRAINGATE_POD_VENV` in the environment names another location. Progress lines go to `progress`.
 */
export function podVenvPython(scriptsDir: string, progress: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(scriptsDir, "pod-venv.sh")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      err = (err + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim() !== "") progress(line.trim());
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const python = out.trim().split("\n").pop() ?? "";
      if (code === 0 && python !== "") resolve(python);
      else reject(new Error(`trainer-scripts/pod-venv.sh failed (exit ${code}):\n${err}`));
    });
  });
}
