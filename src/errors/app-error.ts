/**
 * The error codes of the public contract. Every GraphQL error the gateway answers carries
 * exactly one of these in `extensions.code`; programs branch on the code, people read the message.
 */
export enum ErrorCode {
  UNAUTHENTICATED = "UNAUTHENTICATED",
  NOT_FOUND = "NOT_FOUND",
  BAD_USER_INPUT = "BAD_USER_INPUT",
  PROVIDER_SECRET_MISSING = "PROVIDER_SECRET_MISSING",
  UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED",
  GPU_UNAVAILABLE = "GPU_UNAVAILABLE",
  UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE",
  BUDGET_EXCEEDED = "BUDGET_EXCEEDED",
  INVALID_STATE = "INVALID_STATE",
  RATE_LIMITED = "RATE_LIMITED",
  QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX",
  INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR",
  /** The database or pub/sub is down: HTTP 503 with Retry-After; the caller retries. */
  SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE",
  /** The document does not parse (Apollo's own code). */
  GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED",
  /** The document does not validate against the schema (Apollo's own code); BAD_USER_INPUT is for values. */
  GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED",
  /** A request the transport refuses: the CSRF guard, an operation that cannot be chosen, a GET mutation. */
  BAD_REQUEST = "BAD_REQUEST",
  /** A persisted query's hash this replica does not know: the client sends the document with it (APQ). */
  PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND",
  /** A persisted query's hash where persisted queries are off (PERSISTED_QUERIES=off): send the document (APQ). */
  PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED",
}

export interface AppErrorDetails {
  /** Dotted path of the offending input field, e.g. `input.hyperparameters.learningRate`. */
  field?: string;
  /** Every offending field when more than one was wrong. */
  fields?: { field: string; message: string }[];
  /** Seconds to wait before retrying (RATE_LIMITED, UPSTREAM_UNAVAILABLE, SERVICE_UNAVAILABLE). */
  retryAfterSeconds?: number;
  /** Anything else safe to show to the caller. Never secrets, never upstream bodies. */
  [key: string]: unknown;
}

/**
 * An expected failure with a stable code. Its message is shown to the caller as is, so it must be written
 * for people and must never contain secrets or verbatim upstream payloads.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: AppErrorDetails = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const notFound = (what: string): AppError => new AppError(ErrorCode.NOT_FOUND, `${what} not found`);

export const badInput = (field: string, message: string): AppError =>
  new AppError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });

export const unauthenticated = (message = "authentication required"): AppError =>
  new AppError(ErrorCode.UNAUTHENTICATED, message);

/** Seconds a caller is asked to wait while the database is unreachable. */
export const SERVICE_RETRY_AFTER_SECONDS = 5;

export const serviceUnavailable = (): AppError =>
  new AppError(ErrorCode.SERVICE_UNAVAILABLE, "The database is unreachable right now; retry shortly.", {
    retryAfterSeconds: SERVICE_RETRY_AFTER_SECONDS,
  });

/** A limit of the caller's was reached: retry after `retryAfterSeconds` (a whole number, at least 1). */
export const rateLimited = (message: string, retryAfterSeconds: number): AppError =>
  new AppError(ErrorCode.RATE_LIMITED, message, {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
  });
