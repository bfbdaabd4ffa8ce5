import { AppError, ErrorCode, type AppErrorDetails } from "../errors/app-error";
import { GPU_COUNT_RANGE } from "./gpu-catalogue";

/**
 * Every error the upstream seam raises, by what went wrong. Messages are shown to callers as they are: they
 * never hold the API key, request variables or an upstream body, only a quote that the caller has redacted.
 */
export const upstreamErrors = {
  /** RunPod refused the key (HTTP 401/403, or its GraphQL "unauthorized"). */
  authFailed: (details: AppErrorDetails = {}): AppError =>
    new AppError(ErrorCode.UPSTREAM_AUTH_FAILED, "RunPod rejected the API key", details),

  /** The stored key could not even be sent (not visible ASCII, or longer than 512 characters). */
  malformedKey: (): AppError =>
    new AppError(ErrorCode.UPSTREAM_AUTH_FAILED, "the RunPod API key is malformed"),

  timedOut: (timeoutMs: number, details: AppErrorDetails): AppError =>
    new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, `RunPod did not answer within ${timeoutMs} ms`, details),

  unreachable: (details: AppErrorDetails): AppError =>
    new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "RunPod could not be reached", details),

  /** HTTP 408, 429 or 5xx after the last retry. */
  httpUnavailable: (status: number | undefined, details: AppErrorDetails): AppError =>
    new AppError(
      ErrorCode.UPSTREAM_UNAVAILABLE,
      `RunPod is unavailable (HTTP ${status ?? "error"})`,
      details,
    ),

  /** RunPod's own "Something went wrong. Please try again later". */
  internalError: (details: AppErrorDetails): AppError =>
    new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "RunPod reported an internal error", details),

  /** A 2xx body that is not a GraphQL answer. */
  unreadable: (details: AppErrorDetails): AppError =>
    new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "RunPod sent an unreadable answer", details),

  /** A GraphQL answer without the data the operation needs. */
  incomplete: (details: AppErrorDetails): AppError =>
    new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "RunPod sent an incomplete answer", details),

  /** A refusal we do not branch on: usually our document or input is wrong, so it is an internal error. */
  rejected: (details: AppErrorDetails): AppError =>
    new AppError(ErrorCode.INTERNAL_SERVER_ERROR, "RunPod rejected the request", details),

  /** No capacity for a new pod; `quote` is RunPod's message with every secret already removed. */
  noCapacity: (
    spec: { readonly gpuType: string; readonly cloudType: string; readonly gpuCount: number },
    gpuDisplayName: string,
    quote: string,
    upstreamCode: string | null,
  ): AppError =>
    new AppError(
      ErrorCode.GPU_UNAVAILABLE,
      `RunPod has no ${gpuDisplayName} capacity for ${spec.gpuCount} GPU(s) in ${spec.cloudType} cloud: "${quote}"`,
      {
        gpuType: spec.gpuType,
        cloudType: spec.cloudType,
        gpuCount: spec.gpuCount,
        upstreamCode,
      },
    ),

  /** No free GPUs on a stopped pod's host; `quote` is RunPod's message with every secret already removed. */
  cannotResume: (quote: string, upstreamCode: string | null): AppError =>
    new AppError(ErrorCode.GPU_UNAVAILABLE, `RunPod cannot resume the pod: "${quote}"`, { upstreamCode }),

  podNotFound: (): AppError => new AppError(ErrorCode.NOT_FOUND, "pod not found on RunPod"),

  /** A pod spec or query field out of range: `<field>: <message>`, with `field` in the details. */
  badField: (field: string, message: string): AppError =>
    new AppError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field }),

  gpuCountOutOfRange: (): AppError =>
    upstreamErrors.badField(
      "gpuCount",
      `must be an integer from ${GPU_COUNT_RANGE.min} to ${GPU_COUNT_RANGE.max}`,
    ),

  badCloudType: (): AppError => upstreamErrors.badField("cloudType", "must be SECURE or COMMUNITY"),
};
