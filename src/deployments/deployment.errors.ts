import { AppError, badInput, ErrorCode, notFound, rateLimited } from "../errors/app-error";

/**
 * The errors of the deployments domain, one factory per failure: the code, the message and the details a
 * client sees are decided here, never inline where the failure is found.
 */
export const deploymentErrors = {
  notFound: (): AppError => notFound("deployment"),

  /** A deploy or cost-report input the rules refuse; `field` is the dotted path of the input. */
  badInput: (field: string, message: string): AppError => badInput(field, message),

  /** The same, with details beyond the field (the disk check's numbers). */
  badInputWith: (field: string, message: string, details: Record<string, unknown>): AppError =>
    new AppError(ErrorCode.BAD_USER_INPUT, message, { field, ...details }),

  /** No pod could ever report back to this gateway: deploys are refused. */
  callbackUnreachable: (reason: string): AppError =>
    new AppError(
      ErrorCode.INVALID_STATE,
      `no pod could report back to this gateway: PUBLIC_URL ${reason}; ` +
        "set PUBLIC_URL to an address the pod can reach",
    ),

  /** The network volume named in a deploy is not in the caller's RunPod account. */
  networkVolumeNotFound: (): AppError =>
    badInput("input.output.networkVolumeId", "no network volume with this id in your RunPod account"),

  /** The budget pays for too little running time at every offer that was otherwise acceptable. */
  budgetTooSmall: (message: string): AppError =>
    new AppError(ErrorCode.BUDGET_EXCEEDED, message, { field: "input.budgetLimitUsd" }),

  /** MAX_ACTIVE_DEPLOYMENTS_PER_USER reached. */
  activeCapReached: (count: number, max: number, retryAfterSeconds: number): AppError =>
    rateLimited(
      `${count} of your deployments are active, the most one user may have ` +
        `(MAX_ACTIVE_DEPLOYMENTS_PER_USER=${max}); stop one or wait for one to finish`,
      retryAfterSeconds,
    ),

  /** MAX_DEPLOYS_PER_HOUR reached; a place frees in `waitSeconds`. */
  hourlyCapReached: (max: number, waitSeconds: number): AppError =>
    rateLimited(
      `you have made ${max} deployments in the last hour, the most one user may make ` +
        `(MAX_DEPLOYS_PER_HOUR=${max}); retry in ${waitSeconds} s`,
      waitSeconds,
    ),

  noGpu: (message: string, deploymentId?: string): AppError =>
    new AppError(ErrorCode.GPU_UNAVAILABLE, message, deploymentId ? { deploymentId } : {}),

  /** An error of a deploy that got as far as a row: the deployment's id goes with it. */
  withDeployment: (error: unknown, deploymentId: string): unknown =>
    error instanceof AppError
      ? new AppError(error.code, error.message, { ...error.details, deploymentId })
      : error,
};
