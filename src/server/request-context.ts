import { HeaderMap } from "@apollo/server";
import { GraphQLError } from "graphql";
import { bearerToken, TokenError, type TokenVerifier } from "../auth/jwt";
import type { GatewayContext, Loaders, ResolverLookup } from "../auth/context";
import { isDatabaseUnavailable } from "../db/unavailable";
import { serviceUnavailable, type AppError } from "../errors/app-error";
import type { RequestLimiter } from "../limits/request-limiter";
import { requestErrors } from "./request.errors";

export interface RequestContextDeps {
  verifyToken: TokenVerifier;
  limiter: RequestLimiter;
  limits: { ratePerSecond: number; burst: number };
  /** Creates the caller's row on first sight. */
  users: { ensure(userId: string): Promise<void> };
  /** Fresh loaders; `cache: false` for a subscription, whose context lives as long as it does. */
  loaders(options: { cache: boolean }): Loaders;
  resolvers: ResolverLookup;
}

/**
 * The context of `operations` operations sent together, from the `Authorization` value they came with. Each
 * takes one token of the caller's request limit, before the database is touched.
 */
export type ContextFactory = (
  authorization: string | undefined,
  requestId: string,
  cache: boolean,
  operations?: number,
) => Promise<GatewayContext>;

export function createContextFactory(deps: RequestContextDeps): ContextFactory {
  return async (authorization, requestId, cache, operations = 1) => {
    const context: GatewayContext = {
      requestId,
      // Each loader is made on first use: most subscriptions (and many queries) never resolve a relation.
      loaders: deps.loaders({ cache }),
      resolvers: deps.resolvers,
    };
    const principal = await authenticate(deps.verifyToken, authorization);
    if (principal.userId) {
      const waitSeconds = await deps.limiter.take(principal.userId, operations);
      if (waitSeconds > 0) throw contextError(requestErrors.userRateLimited(deps.limits, waitSeconds), 429);
      await deps.users.ensure(principal.userId).catch((error: unknown) => {
        // SERVICE_UNAVAILABLE for a failure before any resolver runs (the user's first-sight insert).
        throw isDatabaseUnavailable(error) ? contextError(serviceUnavailable(), 503) : error;
      });
      context.userId = principal.userId;
    } else {
      context.authError = principal.error;
    }
    return context;
  };
}

/**
 * An error of the context function (before any resolver runs), answered with `status` and, when the error asks
 * for a wait, `Retry-After`: Apollo answers such an error with the status and headers it carries. Over
 * WebSocket the same error is sent as the operation's error (websocket.ts).
 */
function contextError(error: AppError, status: number): GraphQLError {
  const retryAfter = error.details.retryAfterSeconds;
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      code: error.code,
      ...error.details,
      http: {
        status,
        headers: new HeaderMap(retryAfter === undefined ? [] : [["retry-after", String(retryAfter)]]),
      },
    },
  });
}

async function authenticate(
  verify: TokenVerifier,
  authorization: string | undefined,
): Promise<{ userId?: string; error?: string }> {
  if (!authorization) return {};
  const token = bearerToken(authorization);
  if (!token) return { error: "the Authorization header must be `Bearer <token>`" };
  try {
    return { userId: (await verify(token)).userId };
  } catch (error) {
    return { error: error instanceof TokenError ? error.message : "token is invalid" };
  }
}
