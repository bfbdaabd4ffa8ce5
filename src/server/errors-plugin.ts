import type { ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import type { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { GatewayContext } from "../auth/context";
import { isDatabaseUnavailable } from "../db/unavailable";
import { ErrorCode, SERVICE_RETRY_AFTER_SECONDS } from "../errors/app-error";
import { formatError, INTERNAL_MESSAGE } from "./format-error";

/**
 * Logs what callers are not shown: an unreachable database as a warning, and every error `formatError` hides
 * (INTERNAL_SERVER_ERROR) in full, with the request id the caller is given to quote.
 */
export function logHiddenErrors(errors: readonly GraphQLError[], logger: Logger, requestId?: string): void {
  for (const error of errors) {
    const original = unwrapResolverError(error);
    if (isDatabaseUnavailable(original)) {
      logger.warn({ err: (original as Error).message, requestId }, "database unreachable");
    } else if (formatError(error.toJSON(), error).message === INTERNAL_MESSAGE) {
      logger.error({ err: original, requestId, path: error.path }, "unexpected error");
    }
  }
}

/** Errors of the request's document or variables, which an `application/json` answer reports with status 200. */
const DOCUMENT_OR_VALUE_ERRORS = new Set<string>([
  ErrorCode.GRAPHQL_PARSE_FAILED,
  ErrorCode.GRAPHQL_VALIDATION_FAILED,
  ErrorCode.BAD_USER_INPUT,
]);

/**
 * Unknown errors are hidden and logged with the request id, in one place: each hidden error is logged, its
 * answer names the request id, and the HTTP status says what the codes say (503 with Retry-After while the
 * database is unreachable, 429 with the longest wait asked when a limit was reached in a resolver).
 */
export function errorsPlugin(logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didEncounterErrors: ({ errors, contextValue }) => {
          logHiddenErrors(errors, logger, contextValue.requestId);
          return Promise.resolve();
        },
        willSendResponse: ({ request, response, contextValue }) => {
          if (response.body.kind !== "single") return Promise.resolve();
          const errors = response.body.singleResult.errors ?? [];
          // GraphQL over HTTP: an `application/json` answer to a well-formed request is 200 even when the document
          // does not parse or validate or a variable is wrong (only `application/graphql-response+json` says 400).
          const accept = request.http?.headers.get("accept") ?? "";
          if (
            errors.length > 0 &&
            !("data" in response.body.singleResult) &&
            !accept.includes("application/graphql-response+json") &&
            errors.every((error) => DOCUMENT_OR_VALUE_ERRORS.has(String(error.extensions?.code)))
          ) {
            response.http.status = 200;
          }
          if (errors.some((error) => error.extensions?.code === ErrorCode.SERVICE_UNAVAILABLE)) {
            response.http.status = 503;
            response.http.headers.set("retry-after", String(SERVICE_RETRY_AFTER_SECONDS));
          } else {
            // A limit reached in a resolver (deployTraining's quotas): 429, with the longest wait asked.
            const waits = errors
              .filter((error) => error.extensions?.code === ErrorCode.RATE_LIMITED)
              .map((error) => Number(error.extensions?.retryAfterSeconds ?? 1));
            if (waits.length > 0) {
              response.http.status = 429;
              response.http.headers.set("retry-after", String(Math.max(1, ...waits)));
            }
          }
          for (const error of errors) {
            if (error.message === INTERNAL_MESSAGE) {
              Object.assign(error, {
                message: `${INTERNAL_MESSAGE} (request ${contextValue.requestId})`,
                extensions: { ...error.extensions, requestId: contextValue.requestId },
              });
            }
          }
          return Promise.resolve();
        },
      }),
  };
}
