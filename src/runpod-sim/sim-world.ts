import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { GraphQLError } from "graphql";
import { SimClock } from "./sim-clock";
import {
  type SimCloud,
  type SimGpuType,
  UNKNOWN_GPU_TYPE_ID,
  createGpuMarket,
  maxCountForStock,
  onDemandPrice,
  spotPrice,
} from "./sim-gpu-market";
import {
  DEFAULT_KILL_GRACE_MS,
  LocalPod,
  type LocalPodOptions,
  localPodPaths,
  removeAbandonedPodFolders,
} from "./local-pod";
import { SimulatedTrainer, type SimulatedTrainerOptions, type TrainerWorkspace } from "./simulated-trainer";

/** Logging the simulator does; a pino logger fits. Defaults to silence. */
export interface SimLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface SimNetworkVolume {
  readonly id: string;
  readonly name: string;
  /** GB. */
  readonly size: number;
  readonly dataCenterId: string;
}

export interface SimAccount {
  readonly id: string;
  readonly email: string;
  readonly apiKey: string;
  readonly networkVolumes: SimNetworkVolume[];
  readonly initialBalance: number;
}

export type SimDesiredStatus = "RUNNING" | "EXITED" | "TERMINATED";

/** A pod in the simulator's world. Terminated pods stay here (for the control API) but RunPod no longer shows them. */
export interface SimPod {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  readonly imageName: string;
  readonly gpu: SimGpuType;
  gpuCount: number;
  readonly cloud: SimCloud;
  readonly podType: "RESERVED" | "INTERRUPTABLE";
  /** USD per GPU per hour charged while RUNNING (on-demand price, or the bid for spot pods). */
  readonly pricePerGpu: number;
  desiredStatus: SimDesiredStatus;
  /** The env as given at create, in order (what RunPod echoes as ["K=V"]). */
  readonly env: readonly (readonly [string, string])[];
  /** The pod-scoped RUNPOD_API_KEY: it may end its own pod through REST, nothing else. */
  readonly podApiKey: string;
  readonly dockerArgs: string | null;
  readonly ports: string | null;
  readonly volumeInGb: number;
  readonly containerDiskInGb: number;
  readonly volumeMountPath: string;
  readonly networkVolumeId: string | null;
  readonly dataCenterId: string;
  readonly machineId: string;
  readonly podHostId: string;
  readonly gpuUuids: readonly string[];
  readonly runtimePorts: readonly RuntimePort[];
  /** Epoch ms (pod clock) after which RunPod terminates / stops the pod; null when not set. */
  terminateAfterMs: number | null;
  stopAfterMs: number | null;
  readonly createdWallMs: number;
  readonly createdSimMs: number;
  /** Simulated ms when the current RUNNING interval began, or null while not running. */
  runningSinceSimMs: number | null;
  /** Simulated ms of RUNNING time in closed intervals. */
  closedRunMs: number;
  /** USD accrued in closed intervals. */
  closedCostUsd: number;
  /** Simulated ms at which the container is (or will be) up in the current run; null while not running. */
  containerUpAtSimMs: number | null;
  restartCount: number;
  lastStatusChange: string;
  /** Why the pod left RUNNING for good, for the control API. */
  endReason: string | null;
  readonly workspace: TrainerWorkspace;
  /** What runs in the container while it is up: the simulated trainer, or a local process. */
  trainer: SimulatedTrainer | LocalPod | null;
  /** Containers started so far (each local run logs to its own file). */
  containerRuns: number;
}

export interface RuntimePort {
  readonly ip: string;
  readonly isIpPublic: boolean;
  readonly privatePort: number;
  readonly publicPort: number;
  readonly type: string;
}

export interface SimWorldOptions {
  readonly speedFactor: number;
  readonly startupSeconds: number;
  readonly restartSeconds: number;
  readonly autoAccountPrefix: string | null;
  readonly trainer: false | SimulatedTrainerOptions;
  /** Run every pod as a local process executing the container command (instead of the simulated trainer). */
  readonly localPods: LocalPodOptions | null;
  /**
   * Real ms between SIGTERM and SIGKILL when a pod is stopped or terminated, as `docker stop` gives a container;
   * the same for simulated trainers and local processes. Default 10 000.
   */
  readonly killGraceMs?: number;
  readonly logger: SimLogger;
}

/** RunPod's capacity message, on-demand and spot variants. */
export const NO_CAPACITY_MESSAGE =
  "There are no longer any instances available with the requested specifications. Please refresh and try again.";
export const NO_CAPACITY_SPOT_MESSAGE =
  "There are no longer any instances available with the request specifications. Please try again later.";
export const NOT_ENOUGH_FREE_GPUS_MESSAGE =
  "There are not enough free GPUs on the host machine to start this pod";

const DATA_CENTERS = ["EU-RO-1", "US-TX-3", "CA-MTL-1", "EUR-IS-1", "US-GA-1"] as const;

const ALNUM_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function randomString(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i += 1) out += alphabet[(bytes[i] ?? 0) % alphabet.length];
  return out;
}

/** A RunPod-looking API key: `rpa_` and 40 upper-case alphanumerics. */
export const newApiKey = (): string => `rpa_${randomString(ALNUM_UPPER, 40)}`;

/** The world the simulator serves: accounts, the GPU market, pods and their lifecycle over simulated time. */
export class SimWorld {
  readonly clock: SimClock;
  readonly market = createGpuMarket();
  /** Every pod ever created, terminated ones included. */
  readonly pods = new Map<string, SimPod>();
  /** gpuTypeId (or "*") -> clouds with no capacity ("*" = both). */
  readonly noCapacity = new Map<string, SimCloud | "*">();
  /** Image names (or "*") whose containers never come up: the pod bills with `runtime` null for good. */
  readonly neverStarts = new Set<string>();
  restUrl = "";
  /** The simulator's Hub stand-in, which local pods download local datasets from. */
  hubUrl = "";
  /** The hub cache holding the local models, which local pods load offline. */
  hubCache = "";
  /** The last local process of each pod run by `localPods`, kept after the pod ends. */
  readonly localProcesses = new Map<string, LocalPod>();
  /** Every local process this world started whose main process has not exited yet (grace periods included). */
  private readonly liveLocal = new Set<LocalPod>();
  private readonly accountsByKey = new Map<string, SimAccount>();
  private readonly podIdsByPodKey = new Map<string, string>();
  /**
   * Simulated trainers of stopped or terminated pods in their grace period, by pod id, with the real time
   * (`performance.now()`) at which they are killed. The grace is real time because what fills it (a checkpoint,
   * an upload, the `stopped` report) is real HTTP: on the simulated clock a high speed factor or an `advance()`
   * would cut it short at random.
   */
  private readonly dying = new Map<string, { trainer: SimulatedTrainer; killAt: number }>();
  private closed = false;

  constructor(readonly options: SimWorldOptions) {
    this.clock = new SimClock(options.speedFactor);
    if (options.localPods !== null) {
      // Pods live in this world's memory only: folders a simulator that never closed (killed, crashed) left
      // behind belong to pods no simulator knows any more. `close` removes this world's own.
      const removed = removeAbandonedPodFolders(options.localPods.root);
      if (removed.length > 0) {
        options.logger.debug({ pods: removed.length }, "runpod-sim: removed abandoned local pod folders");
      }
    }
  }

  /** Registers an account. Each account has its own pods and network volumes. */
  addAccount(
    apiKey: string = newApiKey(),
    options: {
      networkVolumes?: readonly Omit<SimNetworkVolume, "id">[];
      email?: string;
      balance?: number;
    } = {},
  ): SimAccount {
    const existing = this.accountsByKey.get(apiKey);
    if (existing !== undefined) return existing;
    const id = `user_${randomString(ALNUM_LOWER, 24)}`;
    const volumes = options.networkVolumes ?? [
      { name: "traingate-checkpoints", size: 50, dataCenterId: "EU-RO-1" },
      { name: "datasets", size: 100, dataCenterId: "US-TX-3" },
    ];
    const account: SimAccount = {
      id,
      email: options.email ?? `${id}@example.com`,
      apiKey,
      networkVolumes: volumes.map((v) => ({ ...v, id: randomString(ALNUM_LOWER, 10) })),
      initialBalance: options.balance ?? 500,
    };
    this.accountsByKey.set(apiKey, account);
    this.options.logger.debug({ accountId: id }, "runpod-sim: account added");
    return account;
  }

  /** The account of an API key; keys with the auto-account prefix create one on first use. */
  accountForKey(apiKey: string | undefined): SimAccount | undefined {
    if (apiKey === undefined || apiKey === "") return undefined;
    const account = this.accountsByKey.get(apiKey);
    if (account !== undefined) return account;
    const prefix = this.options.autoAccountPrefix;
    if (prefix !== null && prefix !== "" && apiKey.startsWith(prefix) && apiKey.length > prefix.length) {
      return this.addAccount(apiKey);
    }
    return undefined;
  }

  accounts(): SimAccount[] {
    return [...this.accountsByKey.values()];
  }

  /** The pod a pod-scoped RUNPOD_API_KEY belongs to. */
  podIdForPodKey(podKey: string | undefined): string | undefined {
    return podKey === undefined ? undefined : this.podIdsByPodKey.get(podKey);
  }

  /** A pod the account can see: its own and not terminated. */
  visiblePod(account: SimAccount, podId: string): SimPod | undefined {
    const pod = this.pods.get(podId);
    return pod !== undefined && pod.accountId === account.id && pod.desiredStatus !== "TERMINATED"
      ? pod
      : undefined;
  }

  livePods(account: SimAccount): SimPod[] {
    return [...this.pods.values()].filter(
      (p) => p.accountId === account.id && p.desiredStatus !== "TERMINATED",
    );
  }

  /** `podFindAndDeployOnDemand` / `podRentInterruptable`. Throws RunPod-shaped GraphQLErrors. */
  deploy(account: SimAccount, input: Record<string, unknown>, spot: { bidPerGpu: number } | null): SimPod {
    const noCapacity = (): GraphQLError =>
      new GraphQLError(spot ? NO_CAPACITY_SPOT_MESSAGE : NO_CAPACITY_MESSAGE, {
        extensions: { code: "SUPPLY_CONSTRAINT", userId: account.id },
      });
    const gpuTypeId = str(input.gpuTypeId);
    const gpu = gpuTypeId === null ? undefined : this.market.get(gpuTypeId);
    if (gpuTypeId === null || gpuTypeId === UNKNOWN_GPU_TYPE_ID || gpu === undefined) {
      // [I] RunPod's exact wording for an unknown id is not documented (runpod-python validates first).
      throw new GraphQLError(`Invalid gpuTypeId: ${JSON.stringify(gpuTypeId)}`, {
        extensions: { code: "BAD_USER_INPUT" },
      });
    }
    const imageName = str(input.imageName);
    if (imageName === null || imageName.trim() === "") {
      throw new GraphQLError("imageName is required when no templateId is given", {
        extensions: { code: "BAD_USER_INPUT" },
      });
    }
    const gpuCount = int(input.gpuCount) ?? 1;
    if (gpuCount < 1 || gpuCount > gpu.maxGpuCount) throw noCapacity();
    const cloud = this.pickCloud(gpu, str(input.cloudType), gpuCount);
    if (cloud === null) throw noCapacity();
    const listPrice = spot ? spotPrice(gpu, cloud) : onDemandPrice(gpu, cloud);
    if (listPrice === null) throw noCapacity();
    if (spot && spot.bidPerGpu < listPrice) {
      throw new GraphQLError(`Your bid is below the minimum bid price of $${listPrice}/hr per GPU`, {
        extensions: { code: "BAD_USER_INPUT" },
      });
    }

    let dataCenterId = str(input.dataCenterId);
    const networkVolumeId = str(input.networkVolumeId);
    if (networkVolumeId !== null) {
      const volume = account.networkVolumes.find((v) => v.id === networkVolumeId);
      if (volume === undefined) {
        throw new GraphQLError("Network volume not found", { extensions: { code: "BAD_USER_INPUT" } });
      }
      // A pod can only mount a network volume of its own data center.
      if (dataCenterId !== null && dataCenterId !== volume.dataCenterId) throw noCapacity();
      dataCenterId = volume.dataCenterId;
    }
    const terminateAfterMs = parseInstant(input.terminateAfter, "terminateAfter");
    const stopAfterMs = parseInstant(input.stopAfter, "stopAfter");

    const env = (Array.isArray(input.env) ? (input.env as unknown[]) : []).flatMap(
      (e): [string, string][] => {
        const entry = record(e);
        const key = str(entry.key);
        const value = str(entry.value);
        return key === null || value === null ? [] : [[key, value]];
      },
    );
    const id = this.newPodId();
    const podApiKey = newApiKey();
    const now = this.clock.now();
    const ports = str(input.ports);
    const pod: SimPod = {
      id,
      accountId: account.id,
      name: str(input.name) ?? imageName.split(":")[0] ?? id,
      imageName,
      gpu,
      gpuCount,
      cloud,
      podType: spot ? "INTERRUPTABLE" : "RESERVED",
      pricePerGpu: spot ? spot.bidPerGpu : listPrice,
      desiredStatus: "RUNNING",
      env,
      podApiKey,
      dockerArgs: str(input.dockerArgs),
      ports,
      volumeInGb: int(input.volumeInGb) ?? 0,
      containerDiskInGb: int(input.containerDiskInGb) ?? 10,
      volumeMountPath: str(input.volumeMountPath) ?? "/workspace",
      networkVolumeId,
      dataCenterId: dataCenterId ?? DATA_CENTERS[randomInt(DATA_CENTERS.length)] ?? "EU-RO-1",
      machineId: randomString(ALNUM_LOWER, 12),
      podHostId: `${id}-${randomInt(10_000_000, 99_999_999)}`,
      gpuUuids: Array.from({ length: gpuCount }, () => `GPU-${randomUUID()}`),
      runtimePorts: runtimePorts(ports),
      terminateAfterMs,
      stopAfterMs,
      createdWallMs: Date.now(),
      createdSimMs: now,
      runningSinceSimMs: now,
      closedRunMs: 0,
      closedCostUsd: 0,
      containerUpAtSimMs:
        this.neverStarts.has("*") || this.neverStarts.has(imageName)
          ? null
          : now + this.options.startupSeconds * 1000,
      restartCount: 0,
      lastStatusChange: `Rented by User: ${new Date(now).toString()}`,
      endReason: null,
      workspace: { checkpointStep: 0, completed: false },
      trainer: null,
      containerRuns: 0,
    };
    this.pods.set(id, pod);
    this.podIdsByPodKey.set(podApiKey, id);
    this.options.logger.debug({ podId: id, gpuTypeId: gpu.id, gpuCount, cloud }, "runpod-sim: pod created");
    return pod;
  }

  /** `podStop` (and `stopAfter`, and REST stop): EXITED, GPU released, billing for GPU ends, volume kept. */
  stop(pod: SimPod, reason: string): void {
    if (pod.desiredStatus !== "RUNNING") return;
    this.closeRunInterval(pod);
    pod.desiredStatus = "EXITED";
    pod.containerUpAtSimMs = null;
    pod.lastStatusChange = `${reason}: ${new Date(this.clock.now()).toString()}`;
    this.killTrainer(pod, "stop");
    this.options.logger.debug({ podId: pod.id, reason }, "runpod-sim: pod stopped");
  }

  /** `podResume` / `podBidResume`: RUNNING again; the container starts over (container disk wiped). */
  resume(pod: SimPod, gpuCount: number | null): void {
    if (pod.desiredStatus !== "EXITED") return;
    const count = gpuCount ?? pod.gpuCount;
    const stock = pod.gpu.stock[pod.cloud];
    if (count > maxCountForStock(stock, pod.gpu.maxGpuCount) || this.hasNoCapacity(pod.gpu.id, pod.cloud)) {
      throw new GraphQLError(NOT_ENOUGH_FREE_GPUS_MESSAGE);
    }
    const now = this.clock.now();
    pod.gpuCount = count;
    pod.desiredStatus = "RUNNING";
    pod.runningSinceSimMs = now;
    pod.containerUpAtSimMs = now + this.options.startupSeconds * 1000;
    pod.lastStatusChange = `Resumed by User: ${new Date(now).toString()}`;
  }

  /** `podTerminate` (and `terminateAfter`, and REST DELETE): gone for good. */
  terminate(pod: SimPod, reason: string): void {
    if (pod.desiredStatus === "TERMINATED") return;
    this.closeRunInterval(pod);
    pod.desiredStatus = "TERMINATED";
    pod.containerUpAtSimMs = null;
    pod.endReason = reason;
    pod.lastStatusChange = `${reason}: ${new Date(this.clock.now()).toString()}`;
    this.killTrainer(pod, "terminate");
    this.options.logger.debug({ podId: pod.id, reason }, "runpod-sim: pod terminated");
  }

  /**
   * The container's main process exited. RunPod restarts it: the pod stays RUNNING and keeps billing
   * (dstack#1142); the runtime disappears until the restarted container is up.
   */
  exitContainer(pod: SimPod, reason: string): void {
    if (pod.desiredStatus !== "RUNNING") return;
    const now = this.clock.now();
    pod.restartCount += 1;
    pod.containerUpAtSimMs = now + this.options.restartSeconds * 1000;
    pod.lastStatusChange = `Container exited (${reason}); restarting: ${new Date(now).toString()}`;
    this.killTrainer(pod, "exit");
    this.options.logger.debug(
      { podId: pod.id, reason, restartCount: pod.restartCount },
      "runpod-sim: restart",
    );
  }

  isRuntimeUp(pod: SimPod): boolean {
    return (
      pod.desiredStatus === "RUNNING" &&
      pod.containerUpAtSimMs !== null &&
      this.clock.now() >= pod.containerUpAtSimMs
    );
  }

  /** USD per hour for the whole pod now: 0 unless RUNNING (a stopped pod bills no GPU). */
  costPerHr(pod: SimPod): number {
    return pod.desiredStatus === "RUNNING" ? roundUsd(pod.gpuCount * pod.pricePerGpu) : 0;
  }

  /** Simulated seconds the pod has been RUNNING, over all its runs. */
  uptimeSeconds(pod: SimPod): number {
    const open = pod.runningSinceSimMs === null ? 0 : Math.max(0, this.clock.now() - pod.runningSinceSimMs);
    return Math.floor((pod.closedRunMs + open) / 1000);
  }

  /** USD the pod has cost so far (GPU time only; storage is not modelled). */
  accruedCostUsd(pod: SimPod): number {
    const open = pod.runningSinceSimMs === null ? 0 : Math.max(0, this.clock.now() - pod.runningSinceSimMs);
    return pod.closedCostUsd + (open / 3_600_000) * pod.gpuCount * pod.pricePerGpu;
  }

  /** Simulated seconds the current container has been up; null while there is no runtime. */
  containerUptimeSeconds(pod: SimPod): number | null {
    if (!this.isRuntimeUp(pod) || pod.containerUpAtSimMs === null) return null;
    return Math.floor((this.clock.now() - pod.containerUpAtSimMs) / 1000);
  }

  /**
   * What a clock inside the pod reads: the wall time at creation plus the simulated time since. Deadlines
   * the gateway computed in wall time (`terminateAfter`, `BUDGET_DEADLINE`) are compared with it, so a pod at
   * speed 60 reaches a one-hour deadline after one real minute, exactly when it has billed one hour.
   */
  podClock(pod: SimPod): number {
    return pod.createdWallMs + (this.clock.now() - pod.createdSimMs);
  }

  hasNoCapacity(gpuTypeId: string, cloud: SimCloud): boolean {
    for (const key of [gpuTypeId, "*"]) {
      const clouds = this.noCapacity.get(key);
      if (clouds === "*" || clouds === cloud) return true;
    }
    return false;
  }

  /** The container env of a pod: its env plus the RUNPOD_* variables RunPod injects. */
  containerEnv(pod: SimPod): Record<string, string> {
    const env = new Map<string, string>(pod.env);
    env.set("RUNPOD_POD_ID", pod.id);
    env.set("RUNPOD_API_KEY", pod.podApiKey);
    env.set("RUNPOD_POD_HOSTNAME", pod.podHostId);
    env.set("RUNPOD_GPU_COUNT", String(pod.gpuCount));
    env.set("RUNPOD_CPU_COUNT", String(8 * pod.gpuCount));
    env.set("RUNPOD_DC_ID", pod.dataCenterId);
    if (pod.networkVolumeId !== null) env.set("RUNPOD_VOLUME_ID", pod.networkVolumeId);
    env.set("CUDA_VERSION", "12.4.1");
    env.set("PYTORCH_VERSION", "2.4.0");
    return Object.fromEntries(env);
  }

  /** Moves every pod along simulated time: deadlines, container start, the trainer. */
  tick(): void {
    if (this.closed) return;
    this.tickDying();
    for (const pod of this.pods.values()) {
      if (pod.desiredStatus === "TERMINATED") continue;
      const clock = this.podClock(pod);
      if (pod.terminateAfterMs !== null && clock >= pod.terminateAfterMs) {
        this.terminate(pod, "Terminated by RunPod (terminateAfter)");
        continue;
      }
      if (pod.desiredStatus === "RUNNING" && pod.stopAfterMs !== null && clock >= pod.stopAfterMs) {
        pod.stopAfterMs = null; // one-shot: a resumed pod is not stopped again at once
        this.stop(pod, "Exited by RunPod (stopAfter)");
        continue;
      }
      if (this.isRuntimeUp(pod) && pod.trainer === null) {
        // A new container of the pod: the previous one is gone, grace period or not.
        this.dying.get(pod.id)?.trainer.kill();
        this.dying.delete(pod.id);
        pod.containerRuns += 1;
        if (this.options.localPods !== null) pod.trainer = this.newLocalPod(pod, this.options.localPods);
        else if (this.options.trainer !== false) pod.trainer = this.newTrainer(pod, this.options.trainer);
        pod.trainer?.start();
      }
      pod.trainer?.tick();
    }
  }

  /**
   * Ends every container at once: simulated trainers are killed, and every local process group this world
   * started (one in its grace period after a stop or a terminate included) gets SIGKILL; resolves once none of
   * their processes is left. The local pods' folders (volumes included) go too: the pods live in this world's
   * memory only, so once it is closed nothing can resume, stop or terminate them, and a simulator started later
   * would not know them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pod of this.pods.values()) this.killTrainer(pod, "close");
    await Promise.all([...this.liveLocal].map((local) => local.close()));
    const local = this.options.localPods;
    if (local !== null) {
      for (const pod of this.pods.values()) {
        rmSync(localPodPaths(local.root, pod.id).pod, { recursive: true, force: true });
      }
    }
  }

  /** The trainer of a pod still in its grace period after SIGTERM, if any (for the control API). */
  dyingTrainer(podId: string): SimulatedTrainer | undefined {
    return this.dying.get(podId)?.trainer;
  }

  /** Trainers in their grace period move on; those done or out of time are killed. */
  private tickDying(): void {
    const now = performance.now();
    for (const [podId, { trainer, killAt }] of this.dying) {
      if (!trainer.ended() && now < killAt) trainer.tick();
      if (trainer.ended() || now >= killAt) {
        trainer.kill();
        this.dying.delete(podId);
      }
    }
  }

  private newLocalPod(pod: SimPod, options: LocalPodOptions): LocalPod {
    const local = new LocalPod(
      {
        podId: pod.id,
        env: this.containerEnv(pod),
        dockerArgs: pod.dockerArgs,
        restUrl: this.restUrl,
        hubUrl: this.hubUrl,
        hubCache: this.hubCache,
        containerExited: (reason) => this.exitContainer(pod, reason),
        log: (fields, msg) => this.options.logger.debug(fields, `runpod-sim: ${msg}`),
      },
      { ...options, killGraceMs: this.killGraceMs() },
      pod.containerRuns,
    );
    this.localProcesses.set(pod.id, local);
    this.liveLocal.add(local);
    void local.gone.then(() => this.liveLocal.delete(local));
    return local;
  }

  private newTrainer(pod: SimPod, options: SimulatedTrainerOptions): SimulatedTrainer {
    return new SimulatedTrainer(
      {
        podId: pod.id,
        env: this.containerEnv(pod),
        gpuMemoryGb: pod.gpu.memoryInGb,
        gpuCount: pod.gpuCount,
        gpuSpeed: pod.gpu.speed,
        workspace: pod.workspace,
        restUrl: this.restUrl,
        simNow: () => this.clock.now(),
        podClock: () => this.podClock(pod),
        containerExited: (reason) => this.exitContainer(pod, reason),
        log: (fields, msg) => this.options.logger.debug(fields, `runpod-sim: ${msg}`),
      },
      options,
    );
  }

  private killGraceMs(): number {
    return this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  }

  /**
   * The container goes away. `stop` and `terminate` are `docker stop`: SIGTERM, then SIGKILL after the grace
   * period; `exit` (its main process ended by itself) and `close` (the simulator shutting down) end it at once.
   */
  private killTrainer(pod: SimPod, how: "stop" | "terminate" | "exit" | "close"): void {
    const trainer = pod.trainer;
    if (how === "close") {
      this.dying.get(pod.id)?.trainer.kill();
      this.dying.delete(pod.id);
    }
    if (trainer instanceof SimulatedTrainer) {
      if (how === "stop" || how === "terminate") {
        trainer.terminate();
        if (!trainer.ended()) {
          this.dying.set(pod.id, { trainer, killAt: performance.now() + this.killGraceMs() });
        }
      } else {
        trainer.kill();
      }
    } else if (trainer !== null) {
      trainer.kill(how === "exit" ? "stop" : how);
    } else if (how === "terminate" && this.options.localPods !== null) {
      const last = this.localProcesses.get(pod.id);
      if (last !== undefined && this.liveLocal.has(last)) {
        // Stopped, its container still in the grace period: the disk goes once its processes are gone.
        last.kill("terminate");
      } else {
        // A stopped local pod has no process left; its disk goes with it.
        rmSync(localPodPaths(this.options.localPods.root, pod.id).pod, { recursive: true, force: true });
      }
    }
    pod.trainer = null;
  }

  private closeRunInterval(pod: SimPod): void {
    if (pod.runningSinceSimMs === null) return;
    const ms = Math.max(0, this.clock.now() - pod.runningSinceSimMs);
    pod.closedRunMs += ms;
    pod.closedCostUsd += (ms / 3_600_000) * pod.gpuCount * pod.pricePerGpu;
    pod.runningSinceSimMs = null;
  }

  /** ALL picks SECURE when it has room, else COMMUNITY; a specific cloud must have room itself. */
  private pickCloud(gpu: SimGpuType, cloudType: string | null, gpuCount: number): SimCloud | null {
    const candidates: SimCloud[] =
      cloudType === "SECURE"
        ? ["SECURE"]
        : cloudType === "COMMUNITY"
          ? ["COMMUNITY"]
          : ["SECURE", "COMMUNITY"];
    for (const cloud of candidates) {
      const offered = onDemandPrice(gpu, cloud) !== null;
      const room = gpuCount <= maxCountForStock(gpu.stock[cloud], gpu.maxGpuCount);
      if (offered && room && !this.hasNoCapacity(gpu.id, cloud)) return cloud;
    }
    return null;
  }

  private newPodId(): string {
    for (;;) {
      const id = randomString(ALNUM_LOWER, 14);
      if (!this.pods.has(id)) return id;
    }
  }
}

function runtimePorts(ports: string | null): RuntimePort[] {
  if (ports === null) return [];
  return ports
    .split(",")
    .map((p) => p.trim())
    .flatMap((spec): RuntimePort[] => {
      const match = /^(\d{1,5})\/(http|tcp)$/.exec(spec);
      if (match === null) return [];
      const privatePort = Number(match[1]);
      const type = match[2] ?? "tcp";
      return type === "http"
        ? [
            {
              ip: `100.65.${randomInt(0, 255)}.${randomInt(1, 254)}`,
              isIpPublic: false,
              privatePort,
              publicPort: randomInt(60000, 65000),
              type,
            },
          ]
        : [
            {
              ip: `213.173.${randomInt(96, 111)}.${randomInt(1, 254)}`,
              isIpPublic: true,
              privatePort,
              publicPort: randomInt(10000, 20000),
              type,
            },
          ];
    });
}

function parseInstant(value: unknown, field: string): number | null {
  if (value === null || value === undefined || value === "") return null;
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new GraphQLError(`${field} must be an ISO-8601 timestamp`, {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  return ms;
}

export const roundUsd = (usd: number): number => Math.round(usd * 10_000) / 10_000;

const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const int = (value: unknown): number | null =>
  typeof value === "number" && Number.isInteger(value) ? value : null;
const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
