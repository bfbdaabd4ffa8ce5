import { AppError, ErrorCode } from "../errors/app-error";

/** The errors of the metric subscription. */
export const metricErrors = {
  /** `afterStep` is not an integer >= -1. */
  badAfterStep: (): AppError =>
    new AppError(ErrorCode.BAD_USER_INPUT, "afterStep: must be an integer >= -1", { field: "afterStep" }),
  /** More live points arrived during a replay than the subscription may hold. */
  replayOverflow: (): AppError =>
    new AppError(
      ErrorCode.RATE_LIMITED,
      "too many points arrived during the replay; subscribe again with afterStep",
    ),
};
