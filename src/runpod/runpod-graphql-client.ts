import { ClientError, GraphQLClient } from "graphql-request";
import type { AppError, AppErrorDetails } from "../errors/app-error";
import { CloudType, gpuCatalogueEntry, isGpuCount, isGpuType } from "./gpu-catalogue";
import type { GpuOffer, GpuOfferQuery, NetworkVolume, PodInfo, PodSpec, RunpodClient } from "./runpod-client";
import {
  CREATE_POD_DOCUMENT,
  GET_POD_DOCUMENT,
  GPU_OFFERS_DOCUMENT,
  LIST_PODS_DOCUMENT,
  NETWORK_VOLUMES_DOCUMENT,
  RESUME_POD_DOCUMENT,
  STOP_POD_DOCUMENT,
  TERMINATE_POD_DOCUMENT,
} from "./runpod.documents";
import {
  type UpstreamGraphqlError,
  classifyGraphqlError,
  isRecord,
  quotableUpstreamMessage,
  readGraphqlErrors,
  safeUpstreamCode,
  secretsIn,
  toCreatePodInput,
  toGpuOffers,
  toNetworkVolumes,
  toPodInfo,
} from "./runpod-graphql.mapping";
import { upstreamErrors } from "./runpod.errors";

/** RunPod's production GraphQL endpoint. The `RUNPOD_API_URL` setting overrides it (the simulator, a proxy). */
export const RUNPOD_GRAPHQL_URL = "https://api.runpod.io/graphql";

/**
 * The logging the client needs; a pino `Logger` fits as it is. Log objects never contain the API key,
 * GraphQL variables (the env holds the job token) or raw transport error messages.
 */
export interface RunpodLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

export interface RunpodGraphqlClientOptions {
  /** The GraphQL endpoint: {@link RUNPOD_GRAPHQL_URL}, or the simulator's `url`. */
  readonly url: string;
  /** Per attempt. Default 30 s (runpod-python's and runpodctl's value). */
  readonly timeoutMs?: number;
  /** Extra attempts for retried operations (reads, stop, terminate). Default 3. */
  readonly retries?: number;
  /** Backoff base: attempt n waits a uniformly random time in [0, min(max, base x 2^(n-1))). Default 250 ms. */
  readonly retryBaseMs?: number;
  /** Backoff ceiling, also the most a `Retry-After` is honoured. Default 5 s. */
  readonly retryMaxMs?: number;
  readonly logger?: RunpodLogger;
  /** Source of jitter in [0, 1); tests may pin it. Default `Math.random`. */
  readonly random?: () => number;
}

type Operation =
  | "CreatePod"
  | "GetPod"
  | "ListPods"
  | "StopPod"
  | "ResumePod"
  | "TerminatePod"
  | "GpuOffers"
  | "NetworkVolumes";

/** Why one attempt failed, before it becomes an AppError. Holds no payloads, only what is safe to log. */
interface Failure {
  readonly kind: "auth" | "timeout" | "network" | "http" | "upstream-internal" | "unreadable" | "rejected";
  readonly retryable: boolean;
  readonly status?: number;
  readonly upstreamCode?: string | null;
  readonly retryAfterSeconds?: number;
  /** For transport errors: the error's name and errno-style code (never its message, which may echo headers). */
  readonly errorName?: string;
  readonly errorCode?: string;
}

interface Answer {
  readonly data: Record<string, unknown>;
  /** Non-transient GraphQL errors, for the operation to interpret (capacity, not found, ...). */
  readonly errors: readonly UpstreamGraphqlError[];
}

type AttemptResult =
  { readonly ok: true; readonly answer: Answer } | { readonly ok: false; readonly failure: Failure };

const noopLogger: RunpodLogger = { warn: () => undefined, debug: () => undefined };

/** Header values must be visible ASCII; anything else would make fetch throw a message that quotes the value. */
const WELL_FORMED_KEY = /^[\x21-\x7e]{1,512}$/;

/**
 * {@link RunpodClient} over RunPod's GraphQL API with graphql-request. The ONLY code that knows the endpoint,
 * the key header (`Authorization: Bearer`, as runpod-python, runpodctl and dstack send it) and the documents (runpod.documents.ts).
 *
 * - Every attempt has a timeout (AbortSignal).
 * - Reads, `podStop` and `podTerminate` are retried on timeouts, network errors, HTTP 408/429/5xx and RunPod's
 *   "Something went wrong", with exponential backoff and full jitter. `podFindAndDeployOnDemand` and
 *   `podResume` are never retried.
 * - graphql-request's `ClientError` carries the request (query and variables, i.e. the job token) and puts it in
 *   its message; it never leaves this file. Thrown errors are fresh `AppError`s without a `cause`.
 */
export class RunpodGraphqlClient implements RunpodClient {
  private readonly graphql: GraphQLClient;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly logger: RunpodLogger;
  private readonly random: () => number;

  constructor(options: RunpodGraphqlClientOptions) {
    const url = new URL(options.url); // throws on a malformed URL at start-up, not on the first call
    this.timeoutMs = positiveInt(options.timeoutMs, 30_000, "timeoutMs");
    this.retries = nonNegativeInt(options.retries, 3, "retries");
    this.retryBaseMs = nonNegativeInt(options.retryBaseMs, 250, "retryBaseMs");
    this.retryMaxMs = nonNegativeInt(options.retryMaxMs, 5_000, "retryMaxMs");
    this.logger = options.logger ?? noopLogger;
    this.random = options.random ?? Math.random;
    // errorPolicy "all": a 200 with `errors` comes back as data instead of a ClientError, because RunPod reports
    // business errors (no capacity, no such pod) that way and we classify them ourselves.
    this.graphql = new GraphQLClient(url.toString(), { errorPolicy: "all" });
  }

  async createPod(apiKey: string, spec: PodSpec): Promise<PodInfo> {
    validateSpec(spec);
    const input = toCreatePodInput(spec, spec.dataCenterId);
    // What RunPod might echo that must not reach a message or a log: the key, env values (JOB_TOKEN), the script.
    const secrets = [apiKey, ...secretsIn({ env: spec.env, dockerArgs: spec.dockerArgs })];
    // Never retried: a timed-out create may have created a pod; the caller finds it by name.
    const { data, errors } = await this.execute("CreatePod", CREATE_POD_DOCUMENT, { input }, apiKey, {
      retry: false,
      outcomeUnknownOnFailure: true,
    });
    const first = errors[0];
    if (first !== undefined) {
      if (classifyGraphqlError(first) === "capacity") {
        throw upstreamErrors.noCapacity(
          spec,
          gpuCatalogueEntry(spec.gpuType).displayName,
          quotableUpstreamMessage(first.message, secrets),
          safeUpstreamCode(first.code),
        );
      }
      throw this.rejected("CreatePod", first, secrets);
    }
    const pod = toPodInfo(data.podFindAndDeployOnDemand);
    if (pod === null) throw this.malformed("CreatePod", { outcomeUnknown: true });
    return pod;
  }

  async getPod(apiKey: string, podId: string): Promise<PodInfo | null> {
    const { data, errors } = await this.execute("GetPod", GET_POD_DOCUMENT, { podId }, apiKey, {
      retry: true,
    });
    const first = errors[0];
    if (first !== undefined) {
      if (classifyGraphqlError(first) === "not-found") return null;
      throw this.rejected("GetPod", first, [apiKey]);
    }
    // A terminated pod answers `pod: null`, as dstack's `pod is None` check expects.
    return toPodInfo(data.pod);
  }

  async listPods(apiKey: string): Promise<PodInfo[]> {
    const { data, errors } = await this.execute("ListPods", LIST_PODS_DOCUMENT, {}, apiKey, { retry: true });
    if (errors[0] !== undefined) throw this.rejected("ListPods", errors[0], [apiKey]);
    const myself = isRecord(data.myself) ? data.myself : null;
    // A missing list is an error, never "no pods": the pod supervisor would close every running deployment.
    if (myself === null || !Array.isArray(myself.pods)) throw this.malformed("ListPods");
    return (myself.pods as unknown[]).flatMap((raw) => {
      const pod = toPodInfo(raw);
      return pod === null ? [] : [pod];
    });
  }

  async stopPod(apiKey: string, podId: string): Promise<void> {
    const { errors } = await this.execute("StopPod", STOP_POD_DOCUMENT, { podId }, apiKey, { retry: true });
    const first = errors[0];
    if (first === undefined) return;
    if (classifyGraphqlError(first) === "not-found") throw upstreamErrors.podNotFound();
    throw this.rejected("StopPod", first, [apiKey]);
  }

  async resumePod(apiKey: string, podId: string, gpuCount: number): Promise<PodInfo> {
    if (!isGpuCount(gpuCount)) throw upstreamErrors.gpuCountOutOfRange();
    const { data, errors } = await this.execute(
      "ResumePod",
      RESUME_POD_DOCUMENT,
      { podId, gpuCount },
      apiKey,
      { retry: false },
    );
    const first = errors[0];
    if (first !== undefined) {
      switch (classifyGraphqlError(first)) {
        case "capacity":
          // "There are not enough free GPUs on the host machine to start this pod": RunPod's answer when the host's GPUs went to someone else.
          throw upstreamErrors.cannotResume(
            quotableUpstreamMessage(first.message, [apiKey]),
            safeUpstreamCode(first.code),
          );
        case "not-found":
          throw upstreamErrors.podNotFound();
        case "auth":
        case "transient":
        case "rejected":
          throw this.rejected("ResumePod", first, [apiKey]);
      }
    }
    const pod = toPodInfo(data.podResume);
    if (pod === null) throw this.malformed("ResumePod");
    return pod;
  }

  async terminatePod(apiKey: string, podId: string): Promise<void> {
    const { data, errors } = await this.execute("TerminatePod", TERMINATE_POD_DOCUMENT, { podId }, apiKey, {
      retry: true,
    });
    const first = errors[0];
    if (first !== undefined) {
      // "pod not found to terminate": already gone, which is what we wanted (dstack treats it alike).
      if (classifyGraphqlError(first) === "not-found") {
        this.logger.debug({ operation: "TerminatePod", podId }, "runpod pod already gone");
        return;
      }
      throw this.rejected("TerminatePod", first, [apiKey]);
    }
    // runpodctl only checks that the key is present; the value is null on success.
    if (!("podTerminate" in data)) throw this.malformed("TerminatePod");
  }

  async listGpuOffers(apiKey: string | undefined, query: GpuOfferQuery): Promise<GpuOffer[]> {
    if (!isGpuCount(query.gpuCount)) throw upstreamErrors.gpuCountOutOfRange();
    const variables = {
      lowestPriceInput: { gpuCount: query.gpuCount, secureCloud: query.cloudType === CloudType.SECURE },
    };
    const { data, errors } = await this.execute("GpuOffers", GPU_OFFERS_DOCUMENT, variables, apiKey, {
      retry: true,
    });
    if (errors[0] !== undefined) throw this.rejected("GpuOffers", errors[0], [apiKey]);
    if (!Array.isArray(data.gpuTypes)) throw this.malformed("GpuOffers");
    return toGpuOffers(data.gpuTypes, query);
  }

  async listNetworkVolumes(apiKey: string): Promise<NetworkVolume[]> {
    const { data, errors } = await this.execute("NetworkVolumes", NETWORK_VOLUMES_DOCUMENT, {}, apiKey, {
      retry: true,
    });
    if (errors[0] !== undefined) throw this.rejected("NetworkVolumes", errors[0], [apiKey]);
    const myself = isRecord(data.myself) ? data.myself : null;
    if (myself === null || !Array.isArray(myself.networkVolumes)) throw this.malformed("NetworkVolumes");
    return toNetworkVolumes(myself.networkVolumes);
  }

  /** Runs one operation with the timeout and (when allowed) the retries; throws AppErrors only. */
  private async execute(
    operation: Operation,
    document: string,
    variables: Record<string, unknown>,
    apiKey: string | undefined,
    policy: { readonly retry: boolean; readonly outcomeUnknownOnFailure?: boolean },
  ): Promise<Answer> {
    if (apiKey !== undefined && !WELL_FORMED_KEY.test(apiKey)) {
      throw upstreamErrors.malformedKey();
    }
    const maxAttempts = policy.retry ? this.retries + 1 : 1;
    for (let attempt = 1; ; attempt += 1) {
      const started = Date.now();
      const result = await this.attempt(document, variables, apiKey);
      const durationMs = Date.now() - started;
      if (result.ok) {
        this.logger.debug({ operation, attempt, durationMs }, "runpod call answered");
        return result.answer;
      }
      const { failure } = result;
      const logFields = { operation, attempt, durationMs, ...describeFailure(failure) };
      if (failure.retryable && attempt < maxAttempts) {
        const delayMs = this.backoffMs(attempt, failure.retryAfterSeconds);
        this.logger.warn({ ...logFields, delayMs }, "runpod call failed; retrying");
        await sleep(delayMs);
        continue;
      }
      this.logger.warn(logFields, "runpod call failed");
      throw this.toAppError(operation, failure, attempt, policy.outcomeUnknownOnFailure === true);
    }
  }

  /** One HTTP exchange. Never throws: every outcome becomes an AttemptResult. */
  private async attempt(
    document: string,
    variables: Record<string, unknown>,
    apiKey: string | undefined,
  ): Promise<AttemptResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await this.graphql.rawRequest<unknown>({
        query: document,
        variables,
        requestHeaders: apiKey === undefined ? {} : { Authorization: `Bearer ${apiKey}` },
        signal: controller.signal,
      });
      return interpretBody(response.data, response.errors);
    } catch (error: unknown) {
      if (controller.signal.aborted) return { ok: false, failure: { kind: "timeout", retryable: true } };
      return { ok: false, failure: transportFailure(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  private backoffMs(attempt: number, retryAfterSeconds: number | undefined): number {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
    const jittered = Math.floor(this.random() * ceiling); // "full jitter"
    const asked = retryAfterSeconds === undefined ? 0 : Math.min(this.retryMaxMs, retryAfterSeconds * 1000);
    return Math.max(jittered, asked);
  }

  private toAppError(
    operation: Operation,
    failure: Failure,
    attempts: number,
    outcomeUnknown: boolean,
  ): AppError {
    const details: AppErrorDetails = { operation, attempts };
    if (failure.status !== undefined) details.upstreamStatus = failure.status;
    if (failure.retryAfterSeconds !== undefined) details.retryAfterSeconds = failure.retryAfterSeconds;
    if (failure.upstreamCode) details.upstreamCode = failure.upstreamCode;
    if (outcomeUnknown && failure.kind !== "auth" && failure.kind !== "rejected")
      details.outcomeUnknown = true;
    switch (failure.kind) {
      case "auth":
        return upstreamErrors.authFailed(details);
      case "timeout":
        return upstreamErrors.timedOut(this.timeoutMs, details);
      case "network":
        return upstreamErrors.unreachable(details);
      case "http":
        return upstreamErrors.httpUnavailable(failure.status, details);
      case "upstream-internal":
        return upstreamErrors.internalError(details);
      case "unreadable":
        return upstreamErrors.unreadable(details);
      case "rejected":
        return upstreamErrors.rejected(details);
    }
  }

  /** A GraphQL error we do not branch on. Logged (key and request values redacted) for operators; the caller sees a generic message. */
  private rejected(
    operation: Operation,
    error: UpstreamGraphqlError,
    secrets: readonly (string | undefined)[],
  ): AppError {
    const kind = classifyGraphqlError(error);
    const upstreamCode = safeUpstreamCode(error.code);
    this.logger.warn(
      { operation, kind, upstreamCode, upstreamMessage: quotableUpstreamMessage(error.message, secrets) },
      "runpod refused the request",
    );
    if (kind === "auth") return upstreamErrors.authFailed({ operation });
    if (kind === "transient") return upstreamErrors.internalError({ operation, upstreamCode });
    return upstreamErrors.rejected({ operation, upstreamCode });
  }

  private malformed(operation: Operation, extra: AppErrorDetails = {}): AppError {
    this.logger.warn({ operation }, "runpod answered without the expected data");
    return upstreamErrors.incomplete({ operation, ...extra });
  }
}

/** A 2xx answer: data plus errors. Transient and auth errors become failures; the rest go to the operation. */
function interpretBody(data: unknown, rawErrors: unknown): AttemptResult {
  const errors = readGraphqlErrors(rawErrors);
  const first = errors[0];
  if (first !== undefined) {
    const kind = classifyGraphqlError(first);
    if (kind === "transient") {
      // "Something went wrong. Please try again later": RunPod's own failure.
      return {
        ok: false,
        failure: { kind: "upstream-internal", retryable: true, upstreamCode: safeUpstreamCode(first.code) },
      };
    }
    if (kind === "auth") return { ok: false, failure: { kind: "auth", retryable: false } };
  }
  if (!isRecord(data) && errors.length === 0) {
    return { ok: false, failure: { kind: "unreadable", retryable: true } };
  }
  return { ok: true, answer: { data: isRecord(data) ? data : {}, errors } };
}

/** A thrown error from graphql-request or fetch, reduced to a Failure. Reads only status, headers, codes. */
function transportFailure(error: unknown): Failure {
  if (error instanceof ClientError) {
    const status = error.response.status;
    if (status === 401 || status === 403) return { kind: "auth", retryable: false, status };
    const retryAfterSeconds = parseRetryAfter(error.response.headers);
    if (status === 408 || status === 429 || status >= 500) {
      return { kind: "http", retryable: true, status, retryAfterSeconds };
    }
    const first = readGraphqlErrors(error.response.errors)[0];
    // Another 4xx: usually a GraphQL validation error, i.e. our document or input is wrong. Not retryable.
    return {
      kind: "rejected",
      retryable: false,
      status,
      upstreamCode: first ? safeUpstreamCode(first.code) : null,
    };
  }
  // Duck-typed, not `instanceof Error`: fetch's errors may come from another realm (undici, jest's vm contexts).
  const err = isRecord(error) ? error : {};
  const name = typeof err.name === "string" ? err.name : typeof error;
  const message = typeof err.message === "string" ? err.message : "";
  // A 2xx body that is not JSON, or JSON that is not a GraphQL answer (graphql-request throws plain Errors).
  if (name === "SyntaxError" || message.startsWith("Invalid execution result")) {
    return { kind: "unreadable", retryable: true };
  }
  const cause = isRecord(err.cause) ? err.cause : null;
  const code =
    typeof cause?.code === "string" ? cause.code : typeof err.code === "string" ? err.code : undefined;
  return { kind: "network", retryable: true, errorName: name, errorCode: code };
}

function parseRetryAfter(headers: unknown): number | undefined {
  if (!(headers instanceof Headers)) return undefined;
  const raw = headers.get("retry-after");
  if (raw === null || !/^\d{1,6}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

function describeFailure(failure: Failure): Record<string, unknown> {
  const fields: Record<string, unknown> = { kind: failure.kind };
  if (failure.status !== undefined) fields.status = failure.status;
  if (failure.upstreamCode) fields.upstreamCode = failure.upstreamCode;
  if (failure.retryAfterSeconds !== undefined) fields.retryAfterSeconds = failure.retryAfterSeconds;
  if (failure.errorName !== undefined) fields.errorName = failure.errorName;
  if (failure.errorCode !== undefined) fields.errorCode = failure.errorCode;
  return fields;
}

const PORT_PATTERN = /^\d{1,5}\/(http|tcp)$/;
const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

function validateSpec(spec: PodSpec): void {
  const bad = upstreamErrors.badField;
  // Specs are built from database rows too; a stale enum value must fail here, not as a TypeError deeper in.
  if (!isGpuType(spec.gpuType)) throw bad("gpuType", "is not a GPU type TrainGate offers");
  if (spec.cloudType !== CloudType.SECURE && spec.cloudType !== CloudType.COMMUNITY) {
    throw upstreamErrors.badCloudType();
  }
  if (!isGpuCount(spec.gpuCount)) throw upstreamErrors.gpuCountOutOfRange();
  if (!Number.isInteger(spec.volumeInGb) || spec.volumeInGb < 0)
    throw bad("volumeInGb", "must be an integer >= 0");
  if (!Number.isInteger(spec.containerDiskInGb) || spec.containerDiskInGb < 1) {
    throw bad("containerDiskInGb", "must be an integer >= 1");
  }
  if (spec.name.trim() === "") throw bad("name", "must not be empty");
  // A pod runs in its network volume's data center; the caller, which looked the volume up, says which.
  if (spec.networkVolumeId !== undefined && spec.dataCenterId === undefined) {
    throw bad("dataCenterId", "is required with networkVolumeId (the network volume's data center)");
  }
  if (spec.imageName.trim() === "") throw bad("imageName", "must not be empty");
  for (const key of Object.keys(spec.env)) {
    // RunPod answers env as ["K=V"]: a key with "=" could not be read back.
    if (!ENV_KEY_PATTERN.test(key)) throw bad("env", `invalid variable name "${key.slice(0, 64)}"`);
  }
  for (const port of spec.ports ?? []) {
    if (!PORT_PATTERN.test(port))
      throw bad("ports", `"${port.slice(0, 32)}" is not <port>/http or <port>/tcp`);
  }
  for (const [field, date] of [
    ["terminateAfter", spec.terminateAfter],
    ["stopAfter", spec.stopAfter],
  ] as const) {
    if (date !== undefined && Number.isNaN(date.getTime())) throw bad(field, "is not a valid date");
  }
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`RunpodGraphqlClient: ${name} must be an integer >= 1`);
  return value;
}

function nonNegativeInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`RunpodGraphqlClient: ${name} must be an integer >= 0`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
