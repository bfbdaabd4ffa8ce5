import { AppError, ErrorCode } from "../errors/app-error";

/** The errors that end or refuse a live stream, whatever it carries. */
export const streamErrors = {
  /** The subscriber did not read fast enough: its bounded buffer filled up. */
  fellBehind: (message = "the subscription fell too far behind; subscribe again to continue"): AppError =>
    new AppError(ErrorCode.RATE_LIMITED, message),
  /** The user already holds `max` subscriptions on this replica. */
  tooMany: (max: number): AppError =>
    new AppError(ErrorCode.RATE_LIMITED, `at most ${max} subscriptions at once per user`),
  /**
   * Events published while the bus was unreachable are gone: the stream ends with a code that says to subscribe
   * again (metrics with afterStep, which replays from the database without a gap), never silence.
   */
  interrupted: (): AppError =>
    new AppError(
      ErrorCode.UPSTREAM_UNAVAILABLE,
      "live events were interrupted (the pub/sub connection dropped); subscribe again, with afterStep for metrics, to continue without a gap",
      { retryAfterSeconds: 1 },
    ),
};
