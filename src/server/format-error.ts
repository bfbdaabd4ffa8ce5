import { unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { isDatabaseUnavailable } from "../db/unavailable";
import { AppError, ErrorCode, serviceUnavailable } from "../errors/app-error";

const PUBLIC_CODES = new Set<string>(Object.values(ErrorCode));

/** Apollo's message for an automatic persisted query whose document does not have the hash sent with it. */
const APQ_HASH_MISMATCH = "provided sha does not match query";

/** What an unexpected error says; the errors plugin adds the request id. */
export const INTERNAL_MESSAGE = "Internal server error";

/** graphql-js's parser gives up past the token limit (query-limits.ts): the document is too complex, not malformed. */
const TOO_MANY_TOKENS = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/; // graphql 16 writes "that"

/**
 * The extensions an error may carry besides its code, each documented in the README's "Errors": what a program
 * can act on. Anything else a part attaches (an upstream's own code, whether a create's outcome is unknown) is
 * for the logs, not for callers.
 */
const PUBLIC_DETAILS = [
  "field",
  "fields",
  "retryAfterSeconds",
  "deploymentId",
  "provider",
  "neededGb",
  "givenGb",
];

function publicDetails(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).filter(([key]) => PUBLIC_DETAILS.includes(key)));
}

/**
 * Codes Apollo uses for a request that is wrong in itself, and the contract's code each is answered with: a
 * document that does not parse or validate keeps Apollo's own code (clients know them); what the transport
 * refuses is BAD_REQUEST.
 */
const REQUEST_ERROR_CODES = new Map<string, ErrorCode>([
  ["GRAPHQL_PARSE_FAILED", ErrorCode.GRAPHQL_PARSE_FAILED],
  ["GRAPHQL_VALIDATION_FAILED", ErrorCode.GRAPHQL_VALIDATION_FAILED],
  ["BAD_REQUEST", ErrorCode.BAD_REQUEST],
  ["OPERATION_RESOLUTION_FAILURE", ErrorCode.BAD_REQUEST],
  // The automatic-persisted-query protocol: clients resend the document on these (and stop sending hashes on
  // the second).
  ["PERSISTED_QUERY_NOT_FOUND", ErrorCode.PERSISTED_QUERY_NOT_FOUND],
  ["PERSISTED_QUERY_NOT_SUPPORTED", ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED],
]);

/**
 * The one place errors become what callers see: every error leaves with one of the contract's codes, a
 * message for people, and nothing more. Unknown errors are answered as INTERNAL_SERVER_ERROR without their
 * message (errors-plugin.ts logs them and adds the request id).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const unwrapped = unwrapAppError(unwrapResolverError(error));
  const base = { locations: formatted.locations, path: formatted.path };
  // An outage is no bug of the gateway's: the caller is told to retry (HTTP 503, see errors-plugin.ts), not
  // shown a 500.
  const original = isDatabaseUnavailable(unwrapped) ? serviceUnavailable() : unwrapped;

  if (original instanceof AppError) {
    return {
      ...base,
      message: original.message,
      extensions: { code: original.code, ...publicDetails(original.details) },
    };
  }
  // Apollo re-wraps validation errors under its own code; a validation rule's code (QUERY_TOO_COMPLEX) is kept.
  const cause = original instanceof GraphQLError ? original.originalError : undefined;
  const causeCode = cause instanceof GraphQLError ? cause.extensions.code : undefined;
  const code =
    typeof causeCode === "string" && PUBLIC_CODES.has(causeCode) ? causeCode : formatted.extensions?.code;
  // INTERNAL_SERVER_ERROR is what Apollo calls every error it does not know: never trust its message.
  const tokenLimit = TOO_MANY_TOKENS.exec(formatted.message)?.[1];
  if (tokenLimit) {
    return {
      ...base,
      message: `the document has more than ${tokenLimit} tokens, the most allowed (the parser stops there)`,
      extensions: { code: ErrorCode.QUERY_TOO_COMPLEX },
    };
  }
  // Apollo's answer to a persisted query sent with a document of another hash carries no code of its own.
  if (formatted.message === APQ_HASH_MISMATCH) {
    return { ...base, message: formatted.message, extensions: { code: ErrorCode.BAD_REQUEST } };
  }
  if (code === String(ErrorCode.SERVICE_UNAVAILABLE)) {
    return {
      ...base,
      message: formatted.message,
      extensions: { code, retryAfterSeconds: formatted.extensions?.retryAfterSeconds },
    };
  }
  if (
    typeof code === "string" &&
    code !== String(ErrorCode.INTERNAL_SERVER_ERROR) &&
    (PUBLIC_CODES.has(code) || REQUEST_ERROR_CODES.has(code))
  ) {
    return {
      ...base,
      // A variable's coercion error keeps its reason as the cause (Apollo's UserInputError).
      message: stripEchoedValues(formatted.message, cause?.message),
      extensions: { code: REQUEST_ERROR_CODES.get(code) ?? code },
    };
  }
  if (original instanceof GraphQLError && original.originalError === undefined && !code) {
    // A plain GraphQLError with no cause comes from graphql-js itself (e.g. an invalid enum literal).
    return {
      ...base,
      message: stripEchoedValues(formatted.message),
      extensions: { code: ErrorCode.BAD_USER_INPUT },
    };
  }
  return { ...base, message: INTERNAL_MESSAGE, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}

/**
 * graphql-js quotes a rejected variable value in its message ("got invalid value …", "cannot represent a non
 * string value: …"); the value may be a secret sent in the wrong shape, so it is cut out. The path and the
 * reason stay. graphql-js writes `Variable "$v" got invalid value <value>[ at "<path>"]; <reason>`: with the
 * reason known, the value is cut exactly, whatever it holds (a "; " inside a string or a key included).
 */
export function stripEchoedValues(message: string, reason?: string): string {
  const variable = /^(Variable "\$\w+" got) invalid value /.exec(message);
  if (variable && reason && message.endsWith(`; ${reason}`)) {
    const head = message.slice(0, message.length - reason.length - 2);
    // A path is the variable and field names or indices: no quote or backslash, unlike an echoed string.
    const path = / at "[^"\\]*"$/.exec(head)?.[0] ?? "";
    return `${variable[1]} an invalid value${path}; ${stripReason(reason)}`;
  }
  return stripReason(
    message.replace(/got invalid value .*?(;| at "|$)/s, (_m, tail: string) => `got an invalid value${tail}`),
  );
}

function stripReason(reason: string): string {
  return reason.replace(/(cannot represent [^:]*?value): .*$/s, "$1");
}

/**
 * Apollo unwraps only errors thrown in a resolver (those with a path). graphql-ws wraps what a subscription's
 * stream throws (a client that fell too far behind) in a GraphQLError without a path: that is still ours.
 */
function unwrapAppError(error: unknown): unknown {
  return error instanceof GraphQLError && error.originalError instanceof AppError
    ? error.originalError
    : error;
}
