import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { tarBuffer } from "../trainer/tar";
import { requestJson, type HttpAnswer } from "./sim-http";

/** Pacing and callback behaviour of the simulated trainer. Every field is optional. */
export interface SimulatedTrainerOptions {
  /**
   * Training steps per SIMULATED second on one RTX A4000 (default 1). Unless `fixedPace`, the real rate is
   * this x the GPU's relative speed (sim-gpu-market.ts) x gpuCount^0.9.
   */
  readonly stepsPerSecond?: number;
  /** Use `stepsPerSecond` as is, whatever the GPU. Default false. Handy for tests. */
  readonly fixedPace?: boolean;
  /** Steps in one epoch. Default 100. */
  readonly stepsPerEpoch?: number;
  /** Total steps; default `epochs` (from the config) x `stepsPerEpoch`. */
  readonly totalSteps?: number;
  /** Attempts per callback after the first (404, 429, 5xx, network errors). Default 5. */
  readonly retries?: number;
  /** Backoff base in REAL milliseconds (full jitter, doubled per attempt, at most 10 s). Default 250. */
  readonly retryBaseMs?: number;
  /** Per request, real milliseconds. Default 10 000. */
  readonly requestTimeoutMs?: number;
}

/** What the trainer keeps on the pod's volume: it survives container restarts and stop/resume. */
export interface TrainerWorkspace {
  /** The last checkpointed step: a restarted trainer resumes from here, as train.py does. */
  checkpointStep: number;
  /** Training finished and the result was reported; a resumed pod idles instead of training again. */
  completed: boolean;
}

/** The pod a trainer runs in, as the simulator exposes it. */
export interface TrainerHost {
  readonly podId: string;
  /** The container's environment: the pod's env plus RunPod's injected RUNPOD_* variables. */
  readonly env: Readonly<Record<string, string>>;
  readonly gpuMemoryGb: number;
  readonly gpuCount: number;
  /** Relative throughput of the pod's GPU type (RTX A4000 = 1). */
  readonly gpuSpeed: number;
  readonly workspace: TrainerWorkspace;
  /** The simulator's REST v1 base URL (stands in for https://rest.runpod.io/v1). */
  readonly restUrl: string;
  /** Simulated epoch ms. */
  simNow(): number;
  /** What a clock inside the pod reads (wall time at creation + simulated time since), epoch ms. */
  podClock(): number;
  /** The trainer process ended without ending the pod: RunPod restarts the container. */
  containerExited(reason: string): void;
  log(fields: Record<string, unknown>, msg: string): void;
}

export type TrainerPhase = "idle" | "training" | "finishing" | "exiting" | "done" | "killed";

/** Why training ended early or not: what `TrainerState.endReason` reads. */
export type TrainerEndReason = "completed" | "stop-requested" | "budget-deadline" | "sigterm";

/** A snapshot for tests and the control API. */
export interface TrainerState {
  readonly phase: TrainerPhase;
  readonly step: number;
  readonly totalSteps: number;
  readonly stepsPerSecond: number;
  /** Points the gateway answered 2xx for. */
  readonly pointsDelivered: number;
  /** Callbacks given up on after their retries. */
  readonly callbacksDropped: number;
  /** Why training ended: "completed", "stop-requested", "budget-deadline", "sigterm", or null while it runs. */
  readonly endReason: TrainerEndReason | null;
}

/** One metric point, exactly the pod metrics callback's payload shape. */
export interface MetricPoint {
  step: number;
  epoch: number;
  loss: number;
  eval_loss: number | null;
  learning_rate: number;
  grad_norm: number;
  samples_per_second: number;
  elapsed_seconds: number;
  remaining_seconds: number;
  progress: number;
  gpu_memory_allocated_gb: number;
  gpu_memory_reserved_gb: number;
  gpu_utilization_percent: number;
}

type Outbound =
  | { readonly kind: "metrics"; readonly points: MetricPoint[] }
  | { readonly kind: "status"; readonly body: Record<string, unknown> }
  /** The result, uploaded whole in one chunk (`PUT .../artifact`), as bootstrap.sh does in chunks. */
  | { readonly kind: "artifact"; readonly tar: Promise<Buffer> };

interface TrainerConfig {
  readonly loggingSteps: number;
  readonly saveSteps: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly warmupRatio: number;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly evalSplit: number;
  readonly memoryFraction: number;
  readonly onComplete: "TERMINATE" | "STOP";
  /** Upload the (synthetic) result to the gateway, as bootstrap.sh does for `output.gateway`. */
  readonly gateway: boolean;
  readonly artifactUri: (podId: string, jobId: string) => string;
}

/** The `message` of a `stopped` report, per reason. */
const STOP_MESSAGES: Readonly<Record<Exclude<TrainerEndReason, "completed">, string>> = {
  "stop-requested": "stop requested by the gateway",
  "budget-deadline": "budget deadline reached",
  sigterm: "received SIGTERM; checkpoint saved",
};

/** A metrics batch holds at most 500 points (the callback route refuses more). */
const MAX_BATCH = 500;

/**
 * A stand-in for trainer-scripts/bootstrap.sh + train.py inside a simulated pod. It reads the same env
 * (`JOB_ID`, `JOB_TOKEN`, `METRICS_API_URL`, `TRAINGATE_CONFIG_B64`, `BUDGET_DEADLINE`), posts metric batches and
 * status to the gateway's pod callback routes with the job token, honours `stop: true`, stops by itself at
 * the budget deadline, checkpoints to the pod volume, and finally terminates (or stops, for `onComplete: STOP`)
 * its own pod through RunPod's REST v1 with the pod-scoped `RUNPOD_API_KEY`, because a container that merely
 * exits is restarted and keeps billing. On SIGTERM (`terminate()`: its pod is stopped or terminated) it saves a
 * checkpoint, delivers its partial result and reports `stopped` within the grace period its pod gives it.
 *
 * Driven by the simulator's ticker (`tick()`); it owns no timers. Pacing follows simulated time, so
 * `speedFactor` and `advance()` speed it up. Callback failures (the gateway down, its route missing) are retried
 * with backoff and then dropped quietly; the pod's lifecycle goes on regardless.
 */
export class SimulatedTrainer {
  private phase: TrainerPhase = "idle";
  private readonly queue: Outbound[] = [];
  private inFlight = false;
  private attempts = 0;
  private nextAttemptAt = 0;
  private readonly abort = new AbortController();
  private config: TrainerConfig | null = null;
  private jobId = "";
  private token = "";
  private metricsBase = "";
  private deadline: number | null = null;
  private totalSteps = 0;
  private stepsPerSecond = 0;
  private stepsPerEpochValue = 100;
  private startStep = 0;
  private startedSimMs = 0;
  private lastQueuedStep = 0;
  private currentStep = 0;
  private pointsDelivered = 0;
  private callbacksDropped = 0;
  private endReason: TrainerEndReason | null = null;
  /** SIGTERM arrived: the pod is being stopped or terminated by someone else, who also ends it. */
  private signalled = false;
  private exitAttempts = 0;
  private readonly seed: number;

  constructor(
    private readonly host: TrainerHost,
    private readonly options: SimulatedTrainerOptions = {},
  ) {
    this.seed = hashString(host.podId);
  }

  /** Called when the container comes up. Reads the env; idles like a plain container when it is not a TrainGate pod. */
  start(): void {
    const env = this.host.env;
    const metricsUrl = env.METRICS_API_URL;
    const jobId = env.JOB_ID;
    const token = env.JOB_TOKEN;
    if (!metricsUrl || !jobId || !token) {
      this.host.log({ podId: this.host.podId }, "trainer: no METRICS_API_URL/JOB_ID/JOB_TOKEN; idling");
      return;
    }
    if (this.host.workspace.completed) {
      this.host.log({ podId: this.host.podId }, "trainer: output already complete; idling");
      return;
    }
    this.jobId = jobId;
    this.token = token;
    this.metricsBase = metricsUrl.replace(/\/+$/, "");
    this.config = parseConfig(env.TRAINGATE_CONFIG_B64);
    this.deadline = parseDeadline(env.BUDGET_DEADLINE);
    const stepsPerEpoch = Math.max(1, Math.floor(this.options.stepsPerEpoch ?? 100));
    this.totalSteps = Math.max(1, Math.floor(this.options.totalSteps ?? this.config.epochs * stepsPerEpoch));
    const base = this.options.stepsPerSecond ?? 1;
    this.stepsPerSecond = this.options.fixedPace
      ? base
      : base * this.host.gpuSpeed * Math.pow(Math.max(1, this.host.gpuCount), 0.9);
    this.stepsPerEpochValue = stepsPerEpoch;
    this.startStep = Math.min(this.host.workspace.checkpointStep, this.totalSteps);
    this.lastQueuedStep = this.startStep;
    this.currentStep = this.startStep;
    this.startedSimMs = this.host.simNow();
    this.phase = "training";
    this.enqueue({ kind: "status", body: { status: "running" } });
  }

  /**
   * The container gets SIGTERM (its pod is being stopped or terminated), as bootstrap.sh does with `docker stop`:
   * a training run saves a checkpoint, uploads its partial result (when the result goes to the gateway) and
   * reports `stopped`; a run already delivering its result carries on. Whoever sent the signal ends the pod, so
   * the trainer does not end it itself. With nothing left to do it is gone at once. The caller kills it (`kill`)
   * when the grace period is over.
   */
  terminate(): void {
    if (this.signalled || this.phase === "killed") return;
    this.signalled = true;
    if (this.phase === "training") {
      this.train();
      this.finish("sigterm");
    }
    if (this.phase !== "finishing") this.kill();
  }

  /** True once the trainer has nothing left to do: it may be killed without losing anything. */
  ended(): boolean {
    return this.phase === "done" || this.phase === "killed" || this.phase === "idle";
  }

  /** The container was killed (SIGKILL: the grace period is over, the container restarts, the simulator closes). */
  kill(): void {
    if (this.phase === "killed") return;
    this.phase = "killed";
    this.abort.abort();
  }

  state(): TrainerState {
    return {
      phase: this.phase,
      step: this.currentStep,
      totalSteps: this.totalSteps,
      stepsPerSecond: this.stepsPerSecond,
      pointsDelivered: this.pointsDelivered,
      callbacksDropped: this.callbacksDropped,
      endReason: this.endReason,
    };
  }

  /** Advances training to the simulated now and moves the callback queue along. */
  tick(): void {
    if (this.phase === "training") this.train();
    if (this.phase === "training" || this.phase === "finishing") this.pump();
    if (this.phase === "finishing" && this.queue.length === 0 && !this.inFlight) {
      // After SIGTERM the pod is already being ended by whoever sent it.
      this.phase = this.signalled ? "done" : "exiting";
      this.nextAttemptAt = 0;
    }
    if (this.phase === "exiting") this.exitPod();
  }

  private train(): void {
    const config = this.config;
    if (config === null) return;
    const elapsedSec = Math.max(0, (this.host.simNow() - this.startedSimMs) / 1000);
    const step = Math.min(this.totalSteps, this.startStep + Math.floor(elapsedSec * this.stepsPerSecond));
    this.currentStep = step;
    this.queuePointsUpTo(step, config);
    // Checkpoint every saveSteps, as train.py does (to /workspace/checkpoints).
    const checkpoint = Math.floor(step / config.saveSteps) * config.saveSteps;
    if (checkpoint > this.host.workspace.checkpointStep) this.host.workspace.checkpointStep = checkpoint;
    if (step >= this.totalSteps) {
      this.finish("completed");
      return;
    }
    if (this.deadline !== null && this.host.podClock() >= this.deadline) this.finish("budget-deadline");
  }

  private queuePointsUpTo(step: number, config: TrainerConfig): void {
    const every = config.loggingSteps;
    let next = (Math.floor(this.lastQueuedStep / every) + 1) * every;
    let points: MetricPoint[] = [];
    for (; next <= step; next += every) {
      points.push(this.point(next, config));
      if (points.length === MAX_BATCH) {
        this.enqueue({ kind: "metrics", points });
        points = [];
      }
    }
    // The last step is always reported, even off the logging grid.
    if (step === this.totalSteps && step > this.lastQueuedStep && step % every !== 0) {
      points.push(this.point(step, config));
    }
    if (points.length > 0) this.enqueue({ kind: "metrics", points });
    if (step > this.lastQueuedStep) this.lastQueuedStep = step;
  }

  private finish(reason: TrainerEndReason): void {
    if (this.phase !== "training" || this.config === null) return;
    this.endReason = reason;
    this.phase = "finishing";
    if (reason === "completed") {
      this.host.workspace.checkpointStep = this.totalSteps;
      this.host.workspace.completed = true;
      if (this.config.gateway) this.enqueue({ kind: "artifact", tar: this.result() });
      this.enqueue({
        kind: "status",
        body: { status: "completed", artifact_uri: this.config.artifactUri(this.host.podId, this.jobId) },
      });
    } else {
      if (reason === "stop-requested") {
        // "stop: true" means stop posting: points not yet sent are dropped, only the final status goes out.
        // (Only reached from an answer, so nothing is in flight and the queue can be rewritten.)
        const statuses = this.queue.filter((item) => item.kind === "status");
        this.queue.splice(0, this.queue.length, ...statuses);
      }
      // Save a checkpoint at the current step before leaving, as train.py does.
      this.host.workspace.checkpointStep = Math.max(this.host.workspace.checkpointStep, this.currentStep);
      // A stopped run delivers its partial result too.
      if (this.config.gateway) this.enqueue({ kind: "artifact", tar: this.result() });
      this.enqueue({
        kind: "status",
        body: {
          status: "stopped",
          ...(this.config.gateway
            ? { artifact_uri: this.config.artifactUri(this.host.podId, this.jobId) }
            : {}),
          message: STOP_MESSAGES[reason],
          // Said only for a stop the trainer decided by itself: the gateway did not ask for it.
          ...(reason === "budget-deadline" ? { reason: "budget_deadline" } : {}),
        },
      });
    }
    this.host.log({ podId: this.host.podId, reason, step: this.currentStep }, "trainer: training ended");
  }

  /** A small adapter-shaped tar, deterministic per job and step. */
  private result(): Promise<Buffer> {
    const weights = createHash("sha256").update(`${this.jobId}/${this.currentStep}`).digest();
    return tarBuffer([
      {
        name: "adapter_config.json",
        content: Buffer.from(JSON.stringify({ r: 16, step: this.currentStep })),
      },
      {
        name: "adapter_model.safetensors",
        content: Buffer.concat(Array.from({ length: 128 }, () => weights)),
      },
    ]);
  }

  private enqueue(item: Outbound): void {
    this.queue.push(item);
  }

  /** Sends the head of the queue (several metric items merged, up to 500 points) unless one is in flight. */
  private pump(): void {
    if (this.inFlight || this.queue.length === 0 || performance.now() < this.nextAttemptAt) return;
    const head = this.queue[0];
    if (head === undefined) return;
    let url: string;
    let body: unknown;
    let taken = 1;
    let pointCount = 0;
    if (head.kind === "artifact") {
      this.inFlight = true;
      void head.tar
        .then((tar) =>
          requestJson("PUT", `${this.metricsBase}/${encodeURIComponent(this.jobId)}/artifact`, {
            raw: tar,
            headers: {
              authorization: `Bearer ${this.token}`,
              "content-type": "application/x-tar",
              "content-range": `bytes 0-${tar.length - 1}/${tar.length}`,
              "x-content-sha256": createHash("sha256").update(tar).digest("hex"),
            },
            timeoutMs: this.options.requestTimeoutMs ?? 10_000,
            signal: this.abort.signal,
          }),
        )
        .then(
          // 409: the gateway already holds it complete (an earlier answer was lost).
          (answer) => this.delivered(answer.status === 409 ? { ...answer, status: 200 } : answer, 1, 0),
          () => this.undelivered(1, "network error"),
        );
      return;
    }
    if (head.kind === "metrics") {
      const points: MetricPoint[] = [...head.points];
      while (taken < this.queue.length) {
        const next = this.queue[taken];
        if (next === undefined || next.kind !== "metrics" || points.length + next.points.length > MAX_BATCH)
          break;
        points.push(...next.points);
        taken += 1;
      }
      pointCount = points.length;
      url = `${this.metricsBase}/${encodeURIComponent(this.jobId)}/metrics`;
      body = { metrics: points };
    } else {
      url = `${this.metricsBase}/${encodeURIComponent(this.jobId)}/status`;
      body = head.body;
    }
    this.inFlight = true;
    requestJson("POST", url, {
      body,
      headers: { authorization: `Bearer ${this.token}` },
      timeoutMs: this.options.requestTimeoutMs ?? 10_000,
      signal: this.abort.signal,
    }).then(
      (answer) => this.delivered(answer, taken, pointCount),
      () => this.undelivered(taken, "network error"),
    );
  }

  private delivered(answer: HttpAnswer, taken: number, pointCount: number): void {
    this.inFlight = false;
    if (this.phase === "killed") return;
    const { status } = answer;
    if (status >= 200 && status < 300) {
      this.queue.splice(0, taken);
      this.attempts = 0;
      this.pointsDelivered += pointCount;
      const body = answer.body;
      if (typeof body === "object" && body !== null && (body as Record<string, unknown>).stop === true) {
        this.finish("stop-requested");
      }
      return;
    }
    if (status === 409) {
      // "job is finished": the gateway has closed the job; stop training like a stop request.
      this.queue.splice(0, taken);
      this.attempts = 0;
      this.finish("stop-requested");
      return;
    }
    if (status === 404 || status === 408 || status === 429 || status >= 500) {
      this.undelivered(taken, `HTTP ${status}`);
      return;
    }
    // 400, 401, 413...: resending the same body cannot succeed.
    this.host.log({ podId: this.host.podId, status }, "trainer: callback refused; dropping it");
    this.queue.splice(0, taken);
    this.attempts = 0;
    this.callbacksDropped += 1;
  }

  private undelivered(taken: number, why: string): void {
    this.inFlight = false;
    if (this.phase === "killed") return;
    this.attempts += 1;
    if (this.attempts > (this.options.retries ?? 5)) {
      this.host.log({ podId: this.host.podId, why }, "trainer: callback failed after retries; dropping it");
      this.queue.splice(0, taken);
      this.attempts = 0;
      this.callbacksDropped += 1;
      this.nextAttemptAt = 0;
      return;
    }
    this.nextAttemptAt = performance.now() + this.backoffMs(this.attempts);
  }

  private backoffMs(attempt: number): number {
    const ceiling = Math.min(10_000, (this.options.retryBaseMs ?? 250) * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }

  /** Terminates (or stops) its own pod through REST v1 with the pod-scoped key, as the real bootstrap does. */
  private exitPod(): void {
    if (this.inFlight || performance.now() < this.nextAttemptAt || this.config === null) return;
    const podId = this.host.env.RUNPOD_POD_ID;
    const podKey = this.host.env.RUNPOD_API_KEY;
    if (!podId || !podKey) {
      this.phase = "done";
      this.host.containerExited("no RUNPOD_POD_ID/RUNPOD_API_KEY to end the pod with");
      return;
    }
    const stop = this.config.onComplete === "STOP";
    const url = stop
      ? `${this.host.restUrl}/pods/${encodeURIComponent(podId)}/stop`
      : `${this.host.restUrl}/pods/${encodeURIComponent(podId)}`;
    this.inFlight = true;
    requestJson(stop ? "POST" : "DELETE", url, {
      headers: { authorization: `Bearer ${podKey}` },
      timeoutMs: this.options.requestTimeoutMs ?? 10_000,
      signal: this.abort.signal,
    }).then(
      (answer) => this.exitAnswered(answer.status),
      () => this.exitAnswered(0),
    );
  }

  private exitAnswered(status: number): void {
    this.inFlight = false;
    if (this.phase === "killed") return; // the pod ended under us: that was the point
    // 404/410: already gone (SkyPilot's terminate_current_pod treats both as success).
    if ((status >= 200 && status < 300) || status === 404 || status === 410) {
      this.phase = "done";
      return;
    }
    this.exitAttempts += 1;
    if (status === 401 || status === 403 || this.exitAttempts > 3) {
      this.phase = "done";
      this.host.containerExited(`self-${this.config?.onComplete === "STOP" ? "stop" : "terminate"} failed`);
      return;
    }
    this.nextAttemptAt = performance.now() + this.backoffMs(this.exitAttempts);
  }

  /** A metric point for `step`: deterministic per (pod, step), so a resend after a restart is identical. */
  private point(step: number, config: TrainerConfig): MetricPoint {
    const total = this.totalSteps;
    const progress = step / total;
    const noise = (channel: number): number => unitNoise(this.seed, step, channel);
    const startLoss = 2.2 + 0.6 * (unitNoise(this.seed, 0, 101) * 0.5 + 0.5);
    const finalLoss = 0.55 + 0.35 * (unitNoise(this.seed, 0, 102) * 0.5 + 0.5);
    const loss = Math.max(
      0.05,
      finalLoss +
        (startLoss - finalLoss) * Math.exp(-4.5 * progress) +
        noise(1) * 0.06 * (1 - 0.5 * progress),
    );
    const warmupSteps = Math.max(1, Math.ceil(total * config.warmupRatio));
    const learningRate =
      step < warmupSteps
        ? (config.learningRate * step) / warmupSteps
        : config.learningRate *
          0.5 *
          (1 + Math.cos((Math.PI * (step - warmupSteps)) / Math.max(1, total - warmupSteps)));
    const atEpochEnd = step % this.stepsPerEpochValue === 0 || step === total;
    const evalLoss = config.evalSplit > 0 && atEpochEnd ? loss + 0.04 + Math.abs(noise(2)) * 0.05 : null;
    const memory = this.host.gpuMemoryGb;
    const allocated = Math.min(memory * 0.95, memory * config.memoryFraction * (1 + noise(3) * 0.03));
    const reserved = Math.min(memory * 0.98, allocated + memory * 0.06);
    const samplesPerSecond =
      config.batchSize * config.gradientAccumulationSteps * this.stepsPerSecond * (1 + noise(4) * 0.03);
    return {
      step,
      epoch: round(step / this.stepsPerEpochValue, 4),
      loss: round(loss, 4),
      eval_loss: evalLoss === null ? null : round(evalLoss, 4),
      learning_rate: Number(learningRate.toPrecision(6)),
      grad_norm: round(Math.max(0.05, 0.3 + 1.5 * Math.exp(-3 * progress) + noise(5) * 0.15), 4),
      samples_per_second: round(samplesPerSecond, 3),
      elapsed_seconds: Math.round(step / this.stepsPerSecond),
      remaining_seconds: Math.round((total - step) / this.stepsPerSecond),
      progress: round(progress * 100, 2),
      gpu_memory_allocated_gb: round(allocated, 2),
      gpu_memory_reserved_gb: round(reserved, 2),
      gpu_utilization_percent: Math.round(95 + noise(6) * 4),
    };
  }
}

/** Parses TRAINGATE_CONFIG_B64 (base64 JSON) defensively; anything missing or malformed takes its default. */
function parseConfig(b64: string | undefined): TrainerConfig {
  let raw: unknown = null;
  if (b64) {
    try {
      raw = JSON.parse(Buffer.from(b64, "base64").toString("utf8")) as unknown;
    } catch {
      raw = null;
    }
  }
  const root = record(raw);
  const hp = record(root.hyperparameters);
  const output = record(root.output);
  const posInt = (value: unknown, fallback: number): number =>
    typeof value === "number" && Number.isInteger(value) && value > 0 ? value : fallback;
  const posNum = (value: unknown, fallback: number): number =>
    typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
  const ratio = (value: unknown, fallback: number): number =>
    typeof value === "number" && Number.isFinite(value) && value >= 0 && value < 1 ? value : fallback;
  const text = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);
  const hubRepoId = text(output.hubRepoId);
  const networkVolumeId = text(output.networkVolumeId);
  const quantization = text(hp.quantization);
  const method = text(root.method);
  // OutputInput.onComplete: TERMINATE unless STOP is asked for.
  const onComplete = output.onComplete === "STOP" ? "STOP" : "TERMINATE";
  // OutputInput.gateway: default true when the result has nowhere else to go.
  const gateway =
    typeof output.gateway === "boolean" ? output.gateway : hubRepoId === null && networkVolumeId === null;
  return {
    loggingSteps: posInt(hp.loggingSteps, 10),
    saveSteps: posInt(hp.saveSteps, 200),
    epochs: posInt(hp.epochs, 1),
    learningRate: posNum(hp.learningRate, 0.0002),
    warmupRatio: ratio(hp.warmupRatio, 0.03),
    batchSize: posInt(hp.batchSize, 4),
    gradientAccumulationSteps: posInt(hp.gradientAccumulationSteps, 1),
    evalSplit: ratio(hp.evalSplit, 0),
    memoryFraction:
      method === "FULL"
        ? 0.9
        : quantization === "INT4" || method === "QLORA"
          ? 0.38
          : quantization === "INT8"
            ? 0.52
            : 0.72,
    onComplete,
    gateway,
    artifactUri: (podId, jobId) =>
      hubRepoId !== null
        ? `hf://${hubRepoId}`
        : networkVolumeId !== null
          ? `runpod-volume://${networkVolumeId}/output`
          : gateway
            ? `gateway://${jobId}`
            : `pod://${podId}/workspace/output`,
  };
}

/** BUDGET_DEADLINE: an ISO-8601 instant, or epoch seconds. Null when absent or unreadable. */
function parseDeadline(value: string | undefined): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim()) * 1000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};

const round = (value: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Deterministic noise in [-1, 1] for (seed, step, channel). */
function unitNoise(seed: number, step: number, channel: number): number {
  let x = (seed ^ Math.imul(step + 1, 0x9e3779b1) ^ Math.imul(channel + 1, 0x85ebca6b)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return ((x >>> 0) / 0xffffffff) * 2 - 1;
}
