import { readFileSync } from "node:fs";
import http, { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
  execute,
  getOperationAST,
  parse,
  validate,
} from "graphql";
import { buildRunpodSchema } from "../runpod/runpod-schema";
import path from "node:path";
import { ensureLocalModels, type LocalModelManifest, serveLocalHub } from "./local-models";
import {
  type LocalPodOptions,
  type LocalProcessState,
  localPodPaths,
  localWorkspaceState,
} from "./local-pod";
import { SimFaults } from "./sim-faults";
import type { SimCloud, StockStatus } from "./sim-gpu-market";
import { createRootValue, type SimContext } from "./sim-graphql";
import { BodyTooLargeError, bearerToken, readBody, sendJson, sendText } from "./sim-http";
import { type SimAccount, type SimLogger, type SimNetworkVolume, type SimPod, SimWorld } from "./sim-world";
import type { SimulatedTrainerOptions, TrainerState } from "./simulated-trainer";

export type { SimLogger, SimNetworkVolume } from "./sim-world";
export type { SimulatedTrainerOptions, TrainerState, MetricPoint } from "./simulated-trainer";
export type { LocalPodOptions, LocalProcessState } from "./local-pod";
export { LOCAL_DATASET_URL, LOCAL_MODEL_ID } from "./local-models";
export { SimFaults, SOMETHING_WENT_WRONG } from "./sim-faults";
export { NO_CAPACITY_MESSAGE, NO_CAPACITY_SPOT_MESSAGE, NOT_ENOUGH_FREE_GPUS_MESSAGE } from "./sim-world";

export interface RunpodSimulatorOptions {
  /** Bind address. Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a random free port. */
  readonly port?: number;
  /** Simulated seconds per real second (uptime, cost, deadlines, trainer pacing). Default 1. */
  readonly speedFactor?: number;
  /** Simulated seconds from create (or resume) until `runtime` appears. Default 15. */
  readonly startupSeconds?: number;
  /** Simulated seconds a restarted container takes to come back. Default 5. */
  readonly restartSeconds?: number;
  /** Real ms between lifecycle ticks. Default 100. */
  readonly tickMs?: number;
  /**
   * Keys starting with this prefix are accepted as accounts on first use (each key its own account), for the demo.
   * Default `"sim_"`; null turns it off so that only keys added with `addAccount` work.
   */
  readonly autoAccountPrefix?: string | null;
  /** Account keys to register at start. */
  readonly accounts?: readonly string[];
  /** The simulated trainer every pod runs once its container is up; `false` turns it off. Default `{}`. */
  readonly trainer?: false | SimulatedTrainerOptions;
  /**
   * Run every pod as a local process executing the container command the gateway sent (the real
   * trainer-scripts/bootstrap.sh and train.py, on CPU) instead of the simulated trainer. The local models
   * (`traingate/tiny-random-llama`, the dataset `hf://datasets/traingate/tiny-arithmetic`) are built into
   * `root/models` at start (once; later starts reuse them).
   */
  readonly localPods?: LocalPodOptions;
  /**
   * Real ms a pod's container gets between SIGTERM and SIGKILL when the pod is stopped or terminated (`podStop`,
   * `podTerminate`, `stopAfter`, `terminateAfter`, REST), as `docker stop` gives it: a training run saves a
   * checkpoint, uploads its partial result and reports `stopped` meanwhile. The same for the simulated trainer and
   * local pods. Default 10 000.
   */
  readonly killGraceMs?: number;
  readonly logger?: SimLogger;
  /** How many GraphQL (and REST) requests are kept in `requests`. Default 10 000 (oldest dropped). */
  readonly maxRecordedRequests?: number;
}

/** One GraphQL request as the simulator received it. The API key itself is never stored. */
export interface SimRequestRecord {
  readonly seq: number;
  /** Wall-clock ISO time of arrival. */
  readonly at: string;
  readonly operationName: string | null;
  readonly operationType: "query" | "mutation" | "subscription" | null;
  /** Top-level fields selected, e.g. `["podFindAndDeployOnDemand"]`. */
  readonly fields: readonly string[];
  /** The variables exactly as received (e.g. the create input with gpuTypeId, env and terminateAfter). */
  readonly variables: Readonly<Record<string, unknown>>;
  /** Whether a key came with the request, and how. */
  readonly keyPresent: boolean;
  readonly keySource: "header" | "query" | null;
  /** The account the key belongs to; null for no key or an unknown key. */
  readonly accountId: string | null;
  /** The HTTP status answered. */
  readonly status: number;
  /** Messages of the GraphQL errors answered, if any. */
  readonly errors: readonly string[];
}

/** One REST v1 request (the in-pod self-terminate / self-stop routes). */
export interface SimRestRecord {
  readonly seq: number;
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly podId: string;
  /** Which credential authorised it. */
  readonly auth: "pod-key" | "account-key" | "none" | "invalid";
  readonly status: number;
}

/** A pod as the control API shows it (terminated pods included). */
export interface SimPodView {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  readonly imageName: string;
  readonly desiredStatus: "RUNNING" | "EXITED" | "TERMINATED";
  readonly runtimeUp: boolean;
  readonly restartCount: number;
  readonly gpuTypeId: string;
  readonly gpuCount: number;
  readonly cloudType: SimCloud;
  readonly podType: "RESERVED" | "INTERRUPTABLE";
  readonly costPerHr: number;
  readonly uptimeSeconds: number;
  readonly accruedCostUsd: number;
  /** The env the pod was created with (what GraphQL echoes). */
  readonly env: Readonly<Record<string, string>>;
  readonly dockerArgs: string | null;
  readonly terminateAfter: string | null;
  readonly stopAfter: string | null;
  readonly networkVolumeId: string | null;
  readonly dataCenterId: string;
  readonly lastStatusChange: string;
  /** Why it was terminated ("Terminated by User", "Terminated by RunPod (terminateAfter)", ...). */
  readonly endReason: string | null;
  readonly checkpointStep: number;
  readonly trainingCompleted: boolean;
  /** The simulated trainer, also while it is in its grace period after SIGTERM; null once it is gone. */
  readonly trainer: TrainerState | null;
  /** The local process of a pod run by `localPods` (its last container), else null. */
  readonly process: LocalProcessState | null;
}

/** A running RunPod simulator: a real HTTP server plus in-process controls. */
export interface RunpodSimulator {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:PORT/graphql` (what `RUNPOD_API_URL` points at). */
  readonly url: string;
  /** REST v1 base, e.g. `http://127.0.0.1:PORT/v1` (stands in for https://rest.runpod.io/v1). */
  readonly restUrl: string;
  /**
   * A stand-in for the Hugging Face Hub's model metadata and dataset downloads of the local models,
   * `http://127.0.0.1:PORT/hub` (what `HF_ENDPOINT` of the gateway and of local pods points at); it answers 404
   * for every other model.
   */
  readonly hubUrl: string;
  /** The models its local pods can load (the local models built at start); none without `localPods`. */
  readonly localModelIds: readonly string[];
  readonly speedFactor: number;
  readonly faults: SimFaults;
  /** Every GraphQL request received, oldest first (a copy). */
  readonly requests: readonly SimRequestRecord[];
  /** Every REST request received, oldest first (a copy). */
  readonly restRequests: readonly SimRestRecord[];
  /** Requests that arrived and are being held by a `faults.delay` rule right now. */
  readonly delayedRequests: number;

  /** Registers an account (a key is generated when omitted). Each account has its own pods and volumes. */
  addAccount(
    apiKey?: string,
    options?: { networkVolumes?: readonly Omit<SimNetworkVolume, "id">[]; email?: string; balance?: number },
  ): {
    readonly apiKey: string;
    readonly accountId: string;
    readonly networkVolumes: readonly SimNetworkVolume[];
  };
  clearRequests(): void;
  setSpeedFactor(speedFactor: number): void;
  /** Jumps simulated time forward and runs one lifecycle tick. */
  advance(simulatedSeconds: number): void;
  /** The simulated clock. */
  now(): Date;
  pod(podId: string): SimPodView | undefined;
  /** Every pod (of one account when a key is given), terminated ones included. */
  pods(apiKey?: string): SimPodView[];
  /** The container's env: the pod env plus RUNPOD_POD_ID, RUNPOD_API_KEY (pod-scoped) and the other injections. */
  podEnv(podId: string): Record<string, string>;
  /** What the containers of a local pod printed (every run, oldest first); "" for a simulated pod. */
  podLog(podId: string): string;
  /** The container's main process exits: RunPod restarts it, the pod stays RUNNING and keeps billing. */
  exitContainer(podId: string): void;
  /** The pod ends itself (in-pod `runpodctl remove pod`), as if through REST with its pod-scoped key. */
  selfTerminate(podId: string): void;
  /** Sets `lowestPrice.stockStatus` (and thus the GPU counts deploys get) of a RunPod gpuTypeId. */
  setStock(gpuTypeId: string, stock: StockStatus | null, cloud?: SimCloud): void;
  /** Overrides per-GPU hourly prices of a RunPod gpuTypeId. */
  setPrice(
    gpuTypeId: string,
    prices: Partial<
      Record<"securePrice" | "communityPrice" | "secureSpotPrice" | "communitySpotPrice", number | null>
    >,
  ): void;
  /** Polls `predicate` (and ticks) until it holds; rejects after `timeoutMs` real ms (default 10 000). */
  waitFor(
    predicate: () => boolean,
    options?: { timeoutMs?: number; intervalMs?: number; what?: string },
  ): Promise<void>;
  close(): Promise<void>;
}

/** Top-level fields that need no key: RunPod answers `gpuTypes` without one. */
const OPEN_FIELDS = new Set(["gpuTypes", "__typename", "__schema", "__type"]);
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Starts a RunPod simulator on a real HTTP port: `POST /graphql` speaks schema/runpod.graphql with RunPod's
 * behaviour, `DELETE /v1/pods/:id` and `POST /v1/pods/:id/stop` are the REST v1 routes an
 * in-pod script uses to end its own pod, and `/hub/...` stands in for the Hub for the local models. Every created
 * pod runs a simulated trainer once its container is up, or, with `localPods`, its container command as a local
 * process.
 */
export async function startRunpodSimulator(options: RunpodSimulatorOptions = {}): Promise<RunpodSimulator> {
  const simulator = new RunpodSimulatorServer(options);
  if (options.localPods !== undefined) {
    const folder = path.join(options.localPods.root, "models");
    simulator.localModels = { manifest: await ensureLocalModels(options.localPods.python, folder), folder };
    simulator.useHubCache(path.join(folder, "hub"));
  }
  await simulator.listen(options.host ?? "127.0.0.1", options.port ?? 0);
  return simulator;
}

const silentLogger: SimLogger = { debug: () => undefined, warn: () => undefined };

class RunpodSimulatorServer implements RunpodSimulator {
  readonly faults: SimFaults;
  url = "";
  restUrl = "";
  hubUrl = "";
  /** The local models, once built (`localPods` only). */
  localModels: { manifest: LocalModelManifest; folder: string } | null = null;

  get localModelIds(): readonly string[] {
    return this.localModels?.manifest.models.map((model) => model.id) ?? [];
  }
  private readonly world: SimWorld;
  private readonly schema: GraphQLSchema;
  private readonly rootValue: Record<string, unknown>;
  private readonly server: Server;
  private readonly logger: SimLogger;
  private readonly maxRecorded: number;
  private readonly records: SimRequestRecord[] = [];
  private readonly restRecords: SimRestRecord[] = [];
  private readonly delayTimers = new Set<NodeJS.Timeout>();
  private ticker: NodeJS.Timeout | null = null;
  private seq = 0;
  private closing = false;

  constructor(private readonly options: RunpodSimulatorOptions) {
    this.logger = options.logger ?? silentLogger;
    this.maxRecorded = options.maxRecordedRequests ?? 10_000;
    this.world = new SimWorld({
      speedFactor: options.speedFactor ?? 1,
      startupSeconds: options.startupSeconds ?? 15,
      restartSeconds: options.restartSeconds ?? 5,
      autoAccountPrefix: options.autoAccountPrefix === undefined ? "sim_" : options.autoAccountPrefix,
      trainer: options.trainer === undefined ? {} : options.trainer,
      localPods: options.localPods ?? null,
      ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
      logger: this.logger,
    });
    for (const key of options.accounts ?? []) this.world.addAccount(key);
    this.faults = new SimFaults(this.world);
    this.schema = buildRunpodSchema();
    this.rootValue = createRootValue(this.world);
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          "runpod-sim: handler failed",
        );
        sendJson(res, 500, { errors: [{ message: "simulator error" }] });
      });
    });
    // Clients keep connections alive; do not let an idle one hold the process.
    this.server.keepAliveTimeout = 1000;
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const base = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
    this.url = `${base}/graphql`;
    this.restUrl = `${base}/v1`;
    this.hubUrl = `${base}/hub`;
    this.world.restUrl = this.restUrl;
    this.world.hubUrl = this.hubUrl;
    this.ticker = setInterval(() => this.tick(), this.options.tickMs ?? 100);
    this.ticker.unref();
  }

  get speedFactor(): number {
    return this.world.clock.speedFactor;
  }

  useHubCache(folder: string): void {
    this.world.hubCache = folder;
  }

  get requests(): readonly SimRequestRecord[] {
    return [...this.records];
  }

  get delayedRequests(): number {
    return this.delayTimers.size;
  }

  get restRequests(): readonly SimRestRecord[] {
    return [...this.restRecords];
  }

  addAccount(
    apiKey?: string,
    options?: { networkVolumes?: readonly Omit<SimNetworkVolume, "id">[]; email?: string; balance?: number },
  ): { apiKey: string; accountId: string; networkVolumes: readonly SimNetworkVolume[] } {
    const account = this.world.addAccount(apiKey, options);
    return { apiKey: account.apiKey, accountId: account.id, networkVolumes: [...account.networkVolumes] };
  }

  clearRequests(): void {
    this.records.length = 0;
    this.restRecords.length = 0;
  }

  setSpeedFactor(speedFactor: number): void {
    this.world.clock.setSpeedFactor(speedFactor);
  }

  advance(simulatedSeconds: number): void {
    this.world.clock.advance(simulatedSeconds * 1000);
    this.tick();
  }

  now(): Date {
    return new Date(this.world.clock.now());
  }

  pod(podId: string): SimPodView | undefined {
    const pod = this.world.pods.get(podId);
    return pod === undefined ? undefined : this.view(pod);
  }

  pods(apiKey?: string): SimPodView[] {
    const account = apiKey === undefined ? undefined : this.world.accountForKey(apiKey);
    if (apiKey !== undefined && account === undefined) return [];
    return [...this.world.pods.values()]
      .filter((p) => account === undefined || p.accountId === account.id)
      .map((p) => this.view(p));
  }

  podEnv(podId: string): Record<string, string> {
    return this.world.containerEnv(this.requirePod(podId));
  }

  podLog(podId: string): string {
    const pod = this.requirePod(podId);
    const local = this.options.localPods;
    if (local === undefined) return "";
    const { logs } = localPodPaths(local.root, pod.id);
    let text = "";
    for (let run = 1; run <= pod.containerRuns; run += 1) {
      try {
        text += readFileSync(path.join(logs, `${pod.id}.${run}.log`), "utf8");
      } catch {
        // that run wrote nothing
      }
    }
    return text;
  }

  exitContainer(podId: string): void {
    this.world.exitContainer(this.requirePod(podId), "process exited");
  }

  selfTerminate(podId: string): void {
    this.world.terminate(this.requirePod(podId), "Terminated by pod");
  }

  setStock(gpuTypeId: string, stock: StockStatus | null, cloud?: SimCloud): void {
    const gpu = this.world.market.get(gpuTypeId);
    if (gpu === undefined) throw new Error(`unknown gpuTypeId ${gpuTypeId}`);
    for (const c of cloud === undefined ? (["SECURE", "COMMUNITY"] as const) : [cloud]) gpu.stock[c] = stock;
  }

  setPrice(
    gpuTypeId: string,
    prices: Partial<
      Record<"securePrice" | "communityPrice" | "secureSpotPrice" | "communitySpotPrice", number | null>
    >,
  ): void {
    const gpu = this.world.market.get(gpuTypeId);
    if (gpu === undefined) throw new Error(`unknown gpuTypeId ${gpuTypeId}`);
    Object.assign(gpu, prices);
  }

  async waitFor(
    predicate: () => boolean,
    options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
  ): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      this.tick();
      if (predicate()) return;
      if (Date.now() > deadline) {
        throw new Error(`runpod-sim: timed out waiting for ${options.what ?? "a condition"}`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const timer of this.delayTimers) clearTimeout(timer);
    this.delayTimers.clear();
    await this.world.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private tick(): void {
    try {
      this.world.tick();
    } catch (error: unknown) {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        "runpod-sim: tick failed",
      );
    }
  }

  private requirePod(podId: string): SimPod {
    const pod = this.world.pods.get(podId);
    if (pod === undefined) throw new Error(`runpod-sim: no pod ${podId}`);
    return pod;
  }

  private view(pod: SimPod): SimPodView {
    const w = this.world;
    const local = this.options.localPods;
    return {
      id: pod.id,
      accountId: pod.accountId,
      name: pod.name,
      imageName: pod.imageName,
      desiredStatus: pod.desiredStatus,
      runtimeUp: w.isRuntimeUp(pod),
      restartCount: pod.restartCount,
      gpuTypeId: pod.gpu.id,
      gpuCount: pod.gpuCount,
      cloudType: pod.cloud,
      podType: pod.podType,
      costPerHr: w.costPerHr(pod),
      uptimeSeconds: w.uptimeSeconds(pod),
      accruedCostUsd: w.accruedCostUsd(pod),
      env: Object.fromEntries(pod.env),
      dockerArgs: pod.dockerArgs,
      terminateAfter: pod.terminateAfterMs === null ? null : new Date(pod.terminateAfterMs).toISOString(),
      stopAfter: pod.stopAfterMs === null ? null : new Date(pod.stopAfterMs).toISOString(),
      networkVolumeId: pod.networkVolumeId,
      dataCenterId: pod.dataCenterId,
      lastStatusChange: pod.lastStatusChange,
      endReason: pod.endReason,
      ...(local === undefined
        ? { checkpointStep: pod.workspace.checkpointStep, trainingCompleted: pod.workspace.completed }
        : localWorkspaceStateView(localPodPaths(local.root, pod.id).workspace)),
      trainer: pod.trainer?.state() ?? w.dyingTrainer(pod.id)?.state() ?? null,
      process: this.world.localProcesses.get(pod.id)?.process() ?? null,
    };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulator.local");
    if (url.pathname === "/graphql" || url.pathname === "/graphql/") {
      if (req.method !== "POST") {
        sendJson(res, 405, { errors: [{ message: "POST only" }] });
        return;
      }
      await this.handleGraphql(req, res, url);
      return;
    }
    if (serveLocalHub(req, res, url.pathname, this.localModels)) return;
    const rest = /^\/v1\/pods\/([^/]+)(\/stop)?\/?$/.exec(url.pathname);
    if (rest !== null) {
      const podId = decodeURIComponent(rest[1] ?? "");
      const action = rest[2] === "/stop" ? "stop" : "terminate";
      if (
        (action === "terminate" && req.method !== "DELETE") ||
        (action === "stop" && req.method !== "POST")
      ) {
        sendJson(res, 405, { error: "method not allowed", status: 405 });
        return;
      }
      this.handleRest(req, res, url.pathname, podId, action);
      return;
    }
    sendJson(res, 404, { error: "not found", status: 404 });
  }

  private async handleGraphql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const headerKey = bearerToken(req);
    const queryKey = url.searchParams.get("api_key") ?? undefined;
    const apiKey = headerKey ?? queryKey;
    const keySource = headerKey !== undefined ? "header" : queryKey !== undefined ? "query" : null;
    const account = this.world.accountForKey(apiKey);

    let operationName: string | null = null;
    let operationType: SimRequestRecord["operationType"] = null;
    let fields: string[] = [];
    let variables: Record<string, unknown> = {};
    const answer = (status: number, body: unknown, errors: readonly string[]): void => {
      this.record({
        seq: ++this.seq,
        at: new Date().toISOString(),
        operationName,
        operationType,
        fields,
        variables,
        keyPresent: apiKey !== undefined && apiKey !== "",
        keySource,
        accountId: account?.id ?? null,
        status,
        errors,
      });
      if (typeof body === "string") sendText(res, status, body);
      else sendJson(res, status, body);
    };
    const fail = (status: number, message: string): void =>
      answer(status, { errors: [{ message }] }, [message]);

    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (error: unknown) {
      if (error instanceof BodyTooLargeError) fail(413, "request body too large");
      else fail(400, "could not read the request body");
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = asRecord(JSON.parse(raw.toString("utf8")) as unknown);
    } catch {
      fail(400, "request body is not JSON");
      return;
    }
    variables = asRecord(body.variables);
    const query = typeof body.query === "string" ? body.query : "";
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (error: unknown) {
      fail(400, error instanceof GraphQLError ? error.message : "syntax error");
      return;
    }
    const requested = typeof body.operationName === "string" ? body.operationName : undefined;
    const operation = getOperationAST(document, requested);
    operationName = operation?.name?.value ?? requested ?? null;
    operationType = operation?.operation ?? null;
    fields = operation == null ? [] : topLevelFields(operation.selectionSet, document);

    // Faults, in the order of a real stack: auth wall, proxy 5xx, slowness, then the API.
    if (this.faults.forcedUnauthorized) {
      fail(401, "Unauthorized");
      return;
    }
    const proxyFailure = this.faults.take("fail", fields);
    if (proxyFailure !== undefined) {
      answer(proxyFailure.status, `upstream error: HTTP ${proxyFailure.status}`, []);
      return;
    }
    const delay = this.faults.take("delay", fields);
    if (delay !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.delayTimers.delete(timer);
          resolve();
        }, delay.ms);
        this.delayTimers.add(timer);
      });
      if (this.closing) return;
    }
    // RunPod answers a missing or unknown key with HTTP 401, except for the open `gpuTypes`.
    const open = fields.length > 0 && fields.every((f) => OPEN_FIELDS.has(f));
    if ((apiKey !== undefined && account === undefined) || (!open && account === undefined)) {
      fail(401, "Unauthorized");
      return;
    }
    if (operation == null) {
      fail(400, "the operation to run could not be determined");
      return;
    }
    const validationErrors = validate(this.schema, document);
    if (validationErrors.length > 0) {
      answer(
        400,
        {
          errors: validationErrors.map((e) => ({
            ...e.toJSON(),
            extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
          })),
        },
        validationErrors.map((e) => e.message),
      );
      return;
    }
    const injected = this.faults.take("graphql-error", fields);
    if (injected !== undefined) {
      const error = {
        message: injected.message,
        ...(injected.code ? { extensions: { code: injected.code } } : {}),
      };
      answer(200, { errors: [error], data: Object.fromEntries(fields.map((f) => [f, null])) }, [
        injected.message,
      ]);
      return;
    }

    this.tick(); // bring deadlines up to date before answering
    const context: SimContext = { account: account ?? null };
    const result = await execute({
      schema: this.schema,
      document,
      rootValue: this.rootValue,
      contextValue: context,
      variableValues: variables,
      operationName: requested,
    });
    const errors = (result.errors ?? []).map((e) => {
      // Resolver errors as RunPod shows them: message, path, extensions (as its SUPPLY_CONSTRAINT errors are shaped).
      const json = e.toJSON();
      return e.path === undefined
        ? json
        : {
            message: json.message,
            path: json.path,
            ...(json.extensions ? { extensions: json.extensions } : {}),
          };
    });
    answer(
      200,
      errors.length > 0 ? { errors, data: result.data ?? null } : { data: result.data ?? null },
      errors.map((e) => e.message),
    );
  }

  private handleRest(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    podId: string,
    action: "terminate" | "stop",
  ): void {
    const token = bearerToken(req);
    const podKeyFor = this.world.podIdForPodKey(token);
    const account: SimAccount | undefined =
      podKeyFor === undefined ? this.world.accountForKey(token) : undefined;
    const auth: SimRestRecord["auth"] =
      token === undefined
        ? "none"
        : podKeyFor !== undefined
          ? "pod-key"
          : account !== undefined
            ? "account-key"
            : "invalid";
    const answer = (status: number, body: unknown): void => {
      this.restRecords.push({
        seq: ++this.seq,
        at: new Date().toISOString(),
        method: req.method ?? "",
        path,
        podId,
        auth,
        status,
      });
      if (this.restRecords.length > this.maxRecorded) this.restRecords.shift();
      if (status === 204) {
        res.writeHead(204).end();
        return;
      }
      sendJson(res, status, body);
    };
    req.resume(); // no body expected; drain whatever came
    // A pod-scoped key may end its own pod and nothing else (as third-party RunPod clients observe).
    if (auth === "none" || auth === "invalid" || (podKeyFor !== undefined && podKeyFor !== podId)) {
      answer(401, { error: "Unauthorized", status: 401 });
      return;
    }
    const pod = this.world.pods.get(podId);
    const mine =
      pod !== undefined && (podKeyFor === podId || (account !== undefined && pod.accountId === account.id));
    if (pod === undefined || !mine || pod.desiredStatus === "TERMINATED") {
      // REST v1's body for a gone pod.
      answer(404, {
        error: action === "terminate" ? "pod not found to terminate" : "pod not found",
        status: 404,
      });
      return;
    }
    if (action === "terminate") {
      this.world.terminate(pod, podKeyFor !== undefined ? "Terminated by pod" : "Terminated by User (REST)");
      answer(204, null);
      return;
    }
    this.world.stop(pod, podKeyFor !== undefined ? "Exited by pod" : "Exited by User (REST)");
    answer(200, { id: pod.id, desiredStatus: pod.desiredStatus });
  }

  private record(entry: SimRequestRecord): void {
    this.records.push(entry);
    if (this.records.length > this.maxRecorded) this.records.shift();
  }
}

function localWorkspaceStateView(workspace: string): { checkpointStep: number; trainingCompleted: boolean } {
  const state = localWorkspaceState(workspace);
  return { checkpointStep: state.checkpointStep, trainingCompleted: state.completed };
}

/** Names of the top-level fields an operation selects (fragments at the top level included). */
function topLevelFields(selectionSet: SelectionSetNode, document: DocumentNode, depth = 0): string[] {
  if (depth > 5) return [];
  const names: string[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) names.push(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) {
      names.push(...topLevelFields(selection.selectionSet, document, depth + 1));
    } else {
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
      );
      if (fragment !== undefined && fragment.kind === Kind.FRAGMENT_DEFINITION) {
        names.push(...topLevelFields(fragment.selectionSet, document, depth + 1));
      }
    }
  }
  return names;
}

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
