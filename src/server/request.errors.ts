import { AppError, ErrorCode, rateLimited } from "../errors/app-error";

/** The errors a request meets before any resolver's own work: its input, its caller's limits. */
export const requestErrors = {
  /** Input objects that fail validation, every bad field named by its full path. */
  invalidInput: (fields: { field: string; message: string }[]): AppError =>
    new AppError(ErrorCode.BAD_USER_INPUT, fields.map((f) => `${f.field}: ${f.message}`).join("; "), {
      field: fields[0].field,
      fields,
    }),
  /** RATE_LIMITED for a caller past USER_RATE_BURST / USER_RATE_PER_SECOND. */
  userRateLimited: (limits: { ratePerSecond: number; burst: number }, waitSeconds: number): AppError =>
    rateLimited(
      `too many requests: the limit is ${limits.ratePerSecond} operations per second per user, ` +
        `with bursts of up to ${limits.burst} (USER_RATE_PER_SECOND, USER_RATE_BURST); ` +
        `retry in ${waitSeconds} s`,
      waitSeconds,
    ),
};
