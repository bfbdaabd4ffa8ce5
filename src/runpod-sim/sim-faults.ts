import type { SimCloud } from "./sim-gpu-market";
import type { SimWorld } from "./sim-world";

/** Restricts a fault to requests whose operation selects this top-level field, e.g. `podFindAndDeployOnDemand`. */
export interface FaultScope {
  readonly field?: string;
}

type Rule =
  | { kind: "fail"; remaining: number; field?: string; status: number }
  | { kind: "graphql-error"; remaining: number; field?: string; message: string; code: string | null }
  | { kind: "delay"; remaining: number; field?: string; ms: number };

/** RunPod's generic failure message. */
export const SOMETHING_WENT_WRONG = "Something went wrong. Please try again later or contact support.";

/**
 * Fault injection for the simulator's GraphQL endpoint. Faults apply in the order a real stack would:
 * forced 401, then HTTP 5xx (a proxy in front), then delay, then the API itself (GraphQL errors, no capacity).
 */
export class SimFaults {
  private rules: Rule[] = [];
  private unauthorized = false;

  constructor(private readonly world: SimWorld) {}

  /**
   * Deploys of `gpuTypeId` (RunPod id, or "*" for every type) fail with the SUPPLY_CONSTRAINT error of
   * as RunPod answers it (HTTP 200, `data.<field> = null`), in `cloud` or in both. Resumes fail with "not enough free
   * GPUs". `lowestPrice.stockStatus` is left alone: RunPod's stock is no promise either.
   */
  noCapacity(gpuTypeId = "*", cloud?: SimCloud): void {
    this.world.noCapacity.set(gpuTypeId, cloud ?? "*");
  }

  /** Lifts `noCapacity` for one type, or for all when omitted. */
  restoreCapacity(gpuTypeId?: string): void {
    if (gpuTypeId === undefined) this.world.noCapacity.clear();
    else this.world.noCapacity.delete(gpuTypeId);
  }

  /**
   * Pods created from `imageName` (or every image, "*") never get their container up, as on a host whose
   * driver is older than the image's CUDA: RunPod keeps the pod RUNNING and billing with `runtime` null.
   */
  containerNeverStarts(imageName = "*"): void {
    this.world.neverStarts.add(imageName);
  }

  /** The next `count` matching requests answer HTTP `status` (default 503) with a non-JSON body, doing nothing. */
  failNext(count: number, options: FaultScope & { status?: number } = {}): void {
    this.rules.push({ kind: "fail", remaining: count, field: options.field, status: options.status ?? 503 });
  }

  /**
   * The next `count` matching requests answer HTTP 200 with one GraphQL error and null data, doing nothing.
   * Default: RunPod's "Something went wrong..." with `extensions.code: INTERNAL_SERVER_ERROR`.
   */
  graphqlErrorNext(
    count: number,
    options: FaultScope & { message?: string; code?: string | null } = {},
  ): void {
    this.rules.push({
      kind: "graphql-error",
      remaining: count,
      field: options.field,
      message: options.message ?? SOMETHING_WENT_WRONG,
      code: options.code === undefined ? "INTERNAL_SERVER_ERROR" : options.code,
    });
  }

  /**
   * Matching requests wait `ms` real milliseconds before they are handled (and are still handled if the client
   * gave up: a timed-out create may have created a pod). `count` omitted: every request until `clearDelay()`.
   */
  delay(ms: number, options: FaultScope & { count?: number } = {}): void {
    this.rules.push({
      kind: "delay",
      remaining: options.count ?? Number.POSITIVE_INFINITY,
      field: options.field,
      ms,
    });
  }

  clearDelay(): void {
    this.rules = this.rules.filter((r) => r.kind !== "delay");
  }

  /** Every GraphQL request answers HTTP 401 `{"errors":[{"message":"Unauthorized"}]}` while on. */
  forceUnauthorized(on = true): void {
    this.unauthorized = on;
  }

  /** Clears every fault, capacity and container start included. */
  reset(): void {
    this.rules = [];
    this.unauthorized = false;
    this.world.noCapacity.clear();
    this.world.neverStarts.clear();
  }

  /** @internal */
  get forcedUnauthorized(): boolean {
    return this.unauthorized;
  }

  /** @internal Consumes one use of the first matching rule of a kind. */
  take<K extends Rule["kind"]>(kind: K, fields: readonly string[]): Extract<Rule, { kind: K }> | undefined {
    const rule = this.rules.find(
      (r): r is Extract<Rule, { kind: K }> =>
        r.kind === kind && r.remaining > 0 && (r.field === undefined || fields.includes(r.field)),
    );
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule;
  }
}
