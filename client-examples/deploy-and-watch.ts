/**
 * deploy-and-watch: starts a fine-tuning run and follows it live in the terminal.
 *
 *   npx tsx client-examples/deploy-and-watch.ts [--config <trainingConfigId>] [--gpu RTX_A4000] [--budget 0.5]
 *
 * The deployment is made over HTTP with graphql-request (`deployTraining`); the loss curve and the deployment's
 * status and cost then arrive over WebSocket with graphql-ws (`trainingMetrics(jobId, afterStep: -1)`, which
 * replays the points already stored and then goes live, and `deploymentUpdated(id)`). A dropped socket is
 * reopened and the metrics resumed with `afterStep` = the last step seen, so no point is lost or shown twice.
 *
 * Exit status: 0 when the deployment COMPLETED; 3 when it ended FAILED or STOPPED; 1 on an error (the gateway's
 * `extensions.code` is printed); 2 on a usage mistake; 130 on Ctrl-C, which only detaches: the run goes on.
 */
import { parseArgs } from "node:util";
import type { GraphQLClient } from "graphql-request";
import { print } from "graphql";
import { createClient, type Client, type FormattedExecutionResult } from "graphql-ws";
import WebSocket from "ws";
import { graphql } from "./gql";
import type {
  DeployTrainingInput,
  DeploymentFieldsFragment,
  DeploymentStatus,
  GpuType,
  DeploymentUpdatedSubscription,
  MetricsSubscription,
} from "./gql/graphql";
import { formatDuration, formatLoss, formatUsd, plot, sparkline } from "./lib/chart";
import {
  describeError,
  describeWireError,
  exitAfterFlush,
  Failure,
  graphqlClient,
  readSettings,
  runMain,
  UsageError,
  type Settings,
  type WireError,
} from "./lib/gateway";

const USAGE = `usage: npx tsx client-examples/deploy-and-watch.ts [options]

  --config <id>        training config to deploy (default: your first saved config)
  --gpu <GpuType>      GPU type, e.g. RTX_A4000 (default), RTX_A5000, A100_SXM_80GB
  --fallback <a,b>     GPU types to try, in order, when the first has no capacity
  --budget <usd>       hard budget in USD; the pod is terminated when it is spent (default 5)
  --deployment <id>    do not deploy: watch this existing deployment (re-attach after Ctrl-C)
  --plain              print one line per point even on a terminal (the default when stdout is not a TTY)
  --url <url>          gateway base URL (default $TRAINGATE_URL or http://localhost:4000)
  --token <jwt>        user token (default $TRAINGATE_TOKEN; npm run demo prints one)`;

type Deployment = DeploymentFieldsFragment;
type Metric = MetricsSubscription["trainingMetrics"];
const FINISHED: readonly DeploymentStatus[] = ["COMPLETED", "FAILED", "STOPPED"];

// The documents are typed by graphql-codegen (client-examples/codegen.ts, `npm run codegen`): `graphql()` answers
// a TypedDocumentNode whose result and variables follow schema/schema.graphql, and graphql-request types its
// answers from it. A fragment is spread by name; the generated document carries its definition.
graphql(`
  fragment DeploymentFields on Deployment {
    id
    status
    stopReason
    podId
    gpuType
    gpuCount
    costPerHourUsd
    budgetLimitUsd
    actualCostUsd
    budgetUsedPercent
    projectedCostUsd
    errorMessage
    trainingConfig {
      name
      modelName
    }
    job {
      id
      status
      artifactUri
      errorMessage
      latestMetric {
        step
      }
    }
  }
`);

const TRAINING_CONFIGS = graphql(`
  query TrainingConfigs {
    trainingConfigs {
      id
      name
    }
  }
`);

const DEPLOY = graphql(`
  mutation Deploy($input: DeployTrainingInput!) {
    deployTraining(input: $input) {
      ...DeploymentFields
    }
  }
`);

const DEPLOYMENT = graphql(`
  query Deployment($id: ID!) {
    deployment(id: $id) {
      ...DeploymentFields
    }
  }
`);

const METRICS = graphql(`
  subscription Metrics($jobId: ID!, $afterStep: Int) {
    trainingMetrics(jobId: $jobId, afterStep: $afterStep) {
      step
      epoch
      loss
      evalLoss
      progress
      elapsedSeconds
      remainingSeconds
    }
  }
`);

const DEPLOYMENT_UPDATED = graphql(`
  subscription DeploymentUpdated($id: ID) {
    deploymentUpdated(id: $id) {
      ...DeploymentFields
    }
  }
`);

/** A safety net under `deploymentUpdated`: an event sent while the socket was down is caught by this poll. */
const POLL_MS = 10_000;
/** Consecutive failed reconnects before giving up (about 45 s of backoff in all). */
const MAX_RECONNECTS = 8;
/** How long to wait, after the run ended, for its last points to arrive on the metrics stream. */
const TAIL_WAIT_MS = 3_000;
/** Keep-alive: ping every so often; a pong not back within PONG_TIMEOUT_MS means the socket is dead. */
const PING_MS = 15_000;
const PONG_TIMEOUT_MS = 5_000;

async function main(): Promise<number> {
  const args = parseCli();
  const settings = readSettings(args);
  const http = graphqlClient(settings);
  const live = !args.plain && process.stdout.isTTY === true;

  let deployment: Deployment;
  try {
    deployment = args.deployment ? await existingDeployment(http, args.deployment) : await deploy(http, args);
  } catch (error) {
    throw error instanceof Failure ? error : new Failure(describeError(error, settings));
  }
  const display = new Display(live, deployment);
  display.log(
    `${args.deployment ? "watching" : "deployed"} ${deployment.id}: ${deployment.trainingConfig.name} ` +
      `(${deployment.trainingConfig.modelName}) on ${deployment.gpuType} x${deployment.gpuCount}, ` +
      `budget ${formatUsd(deployment.budgetLimitUsd)}, job ${deployment.job.id}`,
  );

  process.once("SIGINT", () => {
    // Ctrl-C only detaches this watcher: the deployment goes on, and keeps to its budget, without us.
    display.detach();
    process.stderr.write(
      `detached; deployment ${deployment.id} keeps running. Re-attach with --deployment ${deployment.id}\n`,
    );
    exitAfterFlush(130);
  });

  return new Watcher(settings, http, deployment, display).run();
}

function parseCli() {
  try {
    const { values } = parseArgs({
      options: {
        config: { type: "string" },
        gpu: { type: "string" },
        fallback: { type: "string" },
        budget: { type: "string" },
        deployment: { type: "string" },
        plain: { type: "boolean" },
        url: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    return values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function existingDeployment(http: GraphQLClient, id: string): Promise<Deployment> {
  const { deployment } = await http.request(DEPLOYMENT, { id });
  if (!deployment) throw new Failure([`NOT_FOUND: no deployment ${id}`]);
  return deployment;
}

async function deploy(
  http: GraphQLClient,
  args: { config?: string; gpu?: string; fallback?: string; budget?: string },
): Promise<Deployment> {
  const budget = args.budget === undefined ? undefined : Number(args.budget);
  if (budget !== undefined && !(Number.isFinite(budget) && budget > 0)) {
    throw new UsageError(`--budget must be a positive number of USD, not ${args.budget}`);
  }
  // Omitted fields take the gateway's defaults (RTX_A4000, a $5 budget).
  const input: DeployTrainingInput = { trainingConfigId: args.config ?? (await firstConfig(http)) };
  // GPU names are checked by the gateway, which answers BAD_USER_INPUT naming the field.
  if (args.gpu) input.gpuType = args.gpu.toUpperCase() as GpuType;
  if (args.fallback) {
    input.fallbackGpuTypes = args.fallback.split(",").map((gpu) => gpu.trim().toUpperCase() as GpuType);
  }
  if (budget !== undefined) input.budgetLimitUsd = budget;
  const { deployTraining } = await http.request(DEPLOY, { input });
  return deployTraining;
}

async function firstConfig(http: GraphQLClient): Promise<string> {
  const { trainingConfigs } = await http.request(TRAINING_CONFIGS);
  const first = trainingConfigs[0];
  if (!first) {
    throw new Failure([
      "you have no saved training config: create one (createTrainingConfig, see client-examples/curl.md) or pass --config <id>",
    ]);
  }
  return first.id;
}

/** A close event of the socket, as graphql-ws hands it to a sink (it does not type it, to avoid DOM types). */
function closeCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "number" ? error.code : undefined;
}

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE: Record<number, string> = {
  4400: "the gateway refused a message as malformed (4400)",
  4401: "the gateway saw a subscription before the connection was acknowledged (4401)",
  4403: "the gateway refused the token on the WebSocket (4403 Forbidden): is TRAINGATE_TOKEN valid and unexpired?",
  4406: "the gateway does not speak graphql-transport-ws here (4406)",
};

class Watcher {
  private lastStep = -1;
  /** Bumped for each connection; callbacks of an older connection are ignored. */
  private session = 0;
  private client: Client | undefined;
  private failures = 0;
  private ending = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private settle: { resolve(code: number): void; reject(error: unknown): void } | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly http: GraphQLClient,
    private deployment: Deployment,
    private readonly display: Display,
  ) {}

  run(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.connect();
      this.pollTimer = setInterval(() => void this.poll(), POLL_MS);
      // Already over (watching an old deployment): the replay still draws its curve, then it concludes.
      if (FINISHED.includes(this.deployment.status)) void this.conclude();
    });
  }

  private connect(): void {
    const session = ++this.session;
    const client = createClient({
      url: `${this.settings.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.settings.token}` },
      // Reconnecting is done here, not by graphql-ws, so that the metrics resume after the last step seen.
      retryAttempts: 0,
      lazy: true,
      keepAlive: PING_MS,
      on: {
        connected: (socket) => this.connected(session, socket),
      },
    });
    this.client = client;
    const sink = <T>(onData: (data: T) => void) => ({
      next: (result: FormattedExecutionResult<T>) => {
        if (session !== this.session) return;
        if (result.errors?.length) this.streamFailed(session, result.errors);
        else if (result.data) onData(result.data);
      },
      error: (error: unknown) => this.streamFailed(session, error),
      // The gateway never ends these streams by itself; an end means it is going away (a restart, say).
      complete: () => this.streamFailed(session, new Error("the gateway ended the subscription")),
    });
    client.subscribe<MetricsSubscription>(
      { query: print(METRICS), variables: { jobId: this.deployment.job.id, afterStep: this.lastStep } },
      sink((data) => this.point(data.trainingMetrics)),
    );
    client.subscribe<DeploymentUpdatedSubscription>(
      { query: print(DEPLOYMENT_UPDATED), variables: { id: this.deployment.id } },
      sink((data) => this.updated(data.deploymentUpdated)),
    );
  }

  private connected(session: number, socket: unknown): void {
    if (session !== this.session) return;
    if (this.failures > 0) this.display.log(`reconnected; resuming after step ${this.lastStep}`);
    this.failures = 0;
    this.watchPongs(session, socket);
    // Whatever happened while we were away: the deployment's status now (its events are not replayed).
    setTimeout(() => void this.poll(), 300);
  }

  /** Closes a socket that stops answering pings, so that a half-open connection is noticed and replaced. */
  private watchPongs(session: number, socket: unknown): void {
    if (!(socket instanceof WebSocket)) return;
    let deadline: NodeJS.Timeout | undefined;
    this.client?.on("ping", (received) => {
      if (received || session !== this.session) return;
      deadline = setTimeout(() => {
        if (socket.readyState === WebSocket.OPEN) socket.close(4408, "pong timeout");
      }, PONG_TIMEOUT_MS);
    });
    this.client?.on("pong", (received) => {
      if (received) clearTimeout(deadline);
    });
    this.client?.on("closed", () => clearTimeout(deadline));
  }

  private streamFailed(session: number, error: unknown): void {
    if (session !== this.session || this.ending) return;
    if (Array.isArray(error)) {
      const errors = error as WireError[];
      // RATE_LIMITED on a stream: too many points queued behind a replay; subscribing again is the cure.
      if (errors.every((e) => e.extensions?.code === "RATE_LIMITED")) {
        this.reconnect(errors.map(describeWireError).join("; "));
      } else {
        this.fail(new Failure(errors.map(describeWireError)));
      }
      return;
    }
    const code = closeCode(error);
    if (code !== undefined && FATAL_CLOSE[code]) {
      this.fail(new Failure([FATAL_CLOSE[code]]));
      return;
    }
    const reason =
      code !== undefined
        ? `socket closed (${code})`
        : error instanceof Error
          ? error.message
          : "socket error";
    this.reconnect(reason);
  }

  private reconnect(reason: string): void {
    this.session += 1; // silences the old connection's remaining callbacks
    this.client?.terminate();
    this.failures += 1;
    if (this.failures > MAX_RECONNECTS) {
      this.fail(
        new Failure([
          `lost the connection to ${this.settings.url} (${reason}) and could not get it back; ` +
            `deployment ${this.deployment.id} is unaffected: re-attach with --deployment ${this.deployment.id}`,
        ]),
      );
      return;
    }
    const waitMs = Math.min(10_000, 500 * 2 ** (this.failures - 1));
    this.display.log(
      `connection lost: ${reason}; reconnecting in ${(waitMs / 1000).toFixed(1)}s, then resuming after step ${this.lastStep}`,
    );
    this.retryTimer = setTimeout(() => this.connect(), waitMs);
  }

  private point(metric: Metric): void {
    this.lastStep = Math.max(this.lastStep, metric.step);
    this.display.point(metric);
  }

  private updated(deployment: Deployment): void {
    if (FINISHED.includes(this.deployment.status) && !FINISHED.includes(deployment.status)) return;
    this.deployment = deployment;
    this.display.deployment(deployment);
    if (FINISHED.includes(deployment.status)) void this.conclude();
  }

  private async poll(): Promise<void> {
    if (this.ending) return;
    try {
      const { deployment } = await this.http.request(DEPLOYMENT, {
        id: this.deployment.id,
      });
      if (deployment) this.updated(deployment);
      else this.fail(new Failure([`NOT_FOUND: deployment ${this.deployment.id} is gone`]));
    } catch (error) {
      // Transient trouble is the socket's business; a refused token is not.
      const lines = describeError(error, this.settings);
      if (lines.some((line) => line.startsWith("UNAUTHENTICATED"))) this.fail(new Failure(lines));
    }
  }

  /** The run is over: wait briefly for its last points, draw the final chart, and say how it ended. */
  private async conclude(): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    const lastReported = this.deployment.job.latestMetric?.step ?? -1;
    const waitUntil = Date.now() + TAIL_WAIT_MS;
    while (this.lastStep < lastReported && Date.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.stop();
    this.display.final();
    const d = this.deployment;
    const cost = `cost ${formatUsd(d.actualCostUsd)} of the ${formatUsd(d.budgetLimitUsd)} budget (${d.budgetUsedPercent.toFixed(1)}%)`;
    if (d.status === "COMPLETED") {
      this.display.log(
        `COMPLETED: ${this.display.summary()}; ${cost}` +
          (d.job.artifactUri ? `; adapter at ${d.job.artifactUri}` : ""),
      );
      this.settle?.resolve(0);
      return;
    }
    const why = d.errorMessage ?? d.job.errorMessage;
    this.settle?.reject(
      new Failure(
        [
          `deployment ${d.id} ended ${d.status} (stopReason ${d.stopReason ?? "none"})${why ? `: ${why}` : ""}`,
          `${this.display.summary()}; ${cost}`,
        ],
        3,
      ),
    );
  }

  private fail(failure: Failure): void {
    if (this.ending) return;
    this.ending = true;
    this.stop();
    this.display.final();
    this.settle?.reject(failure);
  }

  private stop(): void {
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.session += 1;
    void this.client?.dispose();
  }
}

/**
 * What the terminal shows. On a TTY: log lines scroll above a live block (header, loss chart, status line)
 * that is redrawn in place. Elsewhere (a pipe, a file, CI): one plain line per point and per status change,
 * and the chart once at the end.
 */
class Display {
  private readonly points: { step: number; loss: number }[] = [];
  private latest: Metric | undefined;
  private drawn = 0;
  private pending: NodeJS.Timeout | undefined;
  private detached = false;
  /** The last frame is drawn: from now on lines are printed below it, and nothing is redrawn. */
  private closed = false;
  private lastDeploymentLine = "";
  private lastStatus: string;

  constructor(
    private readonly live: boolean,
    private deploymentNow: Deployment,
  ) {
    this.lastStatus = deploymentNow.status;
  }

  log(line: string): void {
    if (this.detached) return;
    if (!this.live || this.closed) {
      process.stdout.write(`${line}\n`);
      return;
    }
    this.erase();
    process.stdout.write(`${line}\n`);
    this.draw();
  }

  point(metric: Metric): void {
    this.latest = metric;
    if (metric.loss !== null) {
      // A resumed run may send a step again: the new value replaces the old one.
      const at = this.points.findIndex((p) => p.step >= metric.step);
      const point = { step: metric.step, loss: metric.loss };
      if (at === -1) this.points.push(point);
      else if (this.points[at].step === metric.step) this.points[at] = point;
      else this.points.splice(at, 0, point);
    }
    if (this.live) {
      this.schedule();
      return;
    }
    const recent = this.points.slice(-24).map((p) => p.loss);
    const parts = [
      `step ${metric.step}`,
      metric.epoch !== null ? `epoch ${metric.epoch.toFixed(2)}` : null,
      metric.loss !== null ? `loss ${formatLoss(metric.loss)}` : "loss -",
      metric.evalLoss !== null ? `eval ${formatLoss(metric.evalLoss)}` : null,
      sparkline(recent),
      metric.progress !== null ? `${metric.progress.toFixed(1)}%` : null,
      metric.remainingSeconds !== null ? `eta ${formatDuration(metric.remainingSeconds)}` : null,
    ];
    this.log(parts.filter((p) => p !== null && p !== "").join(" | "));
  }

  deployment(deployment: Deployment): void {
    this.deploymentNow = deployment;
    const line =
      `[deployment] ${deployment.status}` +
      (deployment.stopReason && deployment.stopReason !== deployment.status
        ? ` (${deployment.stopReason})`
        : "") +
      ` on ${deployment.gpuType} x${deployment.gpuCount}` +
      (deployment.podId ? `, pod ${deployment.podId}` : "") +
      (deployment.costPerHourUsd !== null ? `, ${formatUsd(deployment.costPerHourUsd)}/h` : "") +
      `, cost ${formatUsd(deployment.actualCostUsd)} of ${formatUsd(deployment.budgetLimitUsd)}` +
      ` (${deployment.budgetUsedPercent.toFixed(1)}%)`;
    if (line === this.lastDeploymentLine) return;
    this.lastDeploymentLine = line;
    const statusChanged = deployment.status !== this.lastStatus;
    this.lastStatus = deployment.status;
    // On a terminal, cost ticks only redraw the status line; status changes also stay in the scrollback.
    if (this.live && !statusChanged) this.schedule();
    else this.log(line);
  }

  /** `600 steps, final loss 0.8123 (best 0.7950 at step 560)`. */
  summary(): string {
    const last = this.points[this.points.length - 1];
    if (!last) return `${this.latest ? `${this.latest.step} steps` : "no steps"}, no loss reported`;
    const best = this.points.reduce((a, b) => (b.loss < a.loss ? b : a));
    return `${last.step} steps, final loss ${formatLoss(last.loss)} (best ${formatLoss(best.loss)} at step ${best.step})`;
  }

  final(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    if (this.closed) return;
    if (this.live) {
      this.erase();
      this.draw();
      this.drawn = 0;
    } else if (this.points.length >= 2) {
      process.stdout.write(`loss by step:\n${this.chart(this.width()).join("\n")}\n`);
    }
    this.closed = true;
  }

  detach(): void {
    clearTimeout(this.pending);
    if (this.live && this.drawn > 0) process.stdout.write("\n");
    this.detached = true;
  }

  private schedule(): void {
    if (this.pending || this.detached || this.closed) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.erase();
      this.draw();
    }, 80);
  }

  private width(): number {
    return Math.max(20, Math.min(100, (process.stdout.columns || 80) - 12));
  }

  private chart(width: number): string[] {
    return plot(this.points, width, 10);
  }

  private erase(): void {
    if (this.drawn > 0) process.stdout.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.detached || this.closed) return;
    const d = this.deploymentNow;
    const m = this.latest;
    const columns = (process.stdout.columns || 80) - 1;
    const header =
      `${d.trainingConfig.name} | ${d.status}${d.stopReason && d.stopReason !== d.status ? ` (${d.stopReason})` : ""} | ` +
      `${d.gpuType} x${d.gpuCount}${d.podId ? ` | pod ${d.podId}` : ""}`;
    const chart =
      this.points.length > 0 ? this.chart(this.width()) : ["  waiting for the first loss point..."];
    const progress = [
      m ? `step ${m.step}` : "step -",
      m?.progress != null ? `${m.progress.toFixed(1)}%` : null,
      m?.loss != null ? `loss ${formatLoss(m.loss)}` : null,
      m?.remainingSeconds != null ? `eta ${formatDuration(m.remainingSeconds)}` : null,
    ];
    const money = [
      `cost ${formatUsd(d.actualCostUsd)} of ${formatUsd(d.budgetLimitUsd)} (${d.budgetUsedPercent.toFixed(1)}%)`,
      d.costPerHourUsd !== null ? `${formatUsd(d.costPerHourUsd)}/h` : null,
      d.projectedCostUsd !== null ? `projected ${formatUsd(d.projectedCostUsd)}` : null,
    ];
    const status = [progress, money].map((parts) => parts.filter((p) => p !== null).join(" | "));
    // Lines are cut to the terminal's width: a wrapped line would throw off the redraw's line count.
    const lines = [header, ...chart, ...status].map((line) => line.slice(0, columns));
    process.stdout.write(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
}

runMain(main, USAGE);
