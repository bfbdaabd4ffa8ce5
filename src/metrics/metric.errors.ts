import { AppError, badInput, ErrorCode } from "../errors/app-error";

/** The errors of the metric queries and the metric subscription. */
export const metricErrors = {
  /** `afterStep` is not an integer >= -1. */
  badAfterStep: (): AppError =>
    new AppError(ErrorCode.BAD_USER_INPUT, "afterStep: must be an integer >= -1", { field: "afterStep" }),
  /** A history's `limit` is not an integer from 1 to `max`. */
  badLimit: (max: number): AppError => badInput("limit", `must be from 1 to ${max}`),
  /** A downsample's `maxPoints` is not an integer from 2 to `max`. */
  badMaxPoints: (max: number): AppError => badInput("maxPoints", `must be from 2 to ${max}`),
  /** More live points arrived during a replay than the subscription may hold. */
  replayOverflow: (): AppError =>
    new AppError(
      ErrorCode.RATE_LIMITED,
      "too many points arrived during the replay; subscribe again with afterStep",
    ),
};
