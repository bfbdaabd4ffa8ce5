import type { Server } from "node:http";
import { ApolloServer, type PersistedQueryOptions } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import { GraphQLError, OperationTypeNode, type GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import type { GatewayContext } from "../auth/context";
import { ErrorCode } from "../errors/app-error";
import { errorsPlugin } from "./errors-plugin";
import { formatError } from "./format-error";
import { queryCostPlugin, queryLimitRules, queryParseOptions } from "./query-limits";

export interface ApolloDeps {
  schema: GraphQLSchema;
  httpServer: Server;
  logger: Logger;
  /** How long a shutdown may take in all (SHUTDOWN_TIMEOUT_MS). */
  shutdownTimeoutMs: number;
  /** Apollo's persisted queries as `PERSISTED_QUERIES` sets them (persisted-queries.ts). */
  persistedQueries: PersistedQueryOptions | false;
  /** Closes the WebSocket server when Apollo drains. */
  drainWebSockets(): Promise<void>;
}

/** GraphQL over HTTP: Apollo with the query limits, the errors plugin, and the drain on shutdown. Started. */
export async function startApollo(deps: ApolloDeps): Promise<ApolloServer<GatewayContext>> {
  const { logger } = deps;
  const apollo = new ApolloServer<GatewayContext>({
    schema: deps.schema,
    introspection: true,
    // main.ts owns SIGTERM/SIGINT and closes everything in order; Apollo's own handler would stop it twice.
    stopOnTerminationSignals: false,
    // Apollo's CSRF guard refuses a request a browser could send cross-site without a preflight. One that carries
    // `Authorization` cannot be such a request, and the gateway authenticates with bearer tokens only (no cookies):
    // a GET with a token runs (urql and graphql-request send queries that way); one without it still needs
    // `apollo-require-preflight` or `x-apollo-operation-name`. GET never runs a mutation.
    csrfPrevention: {
      requestHeaders: ["x-apollo-operation-name", "apollo-require-preflight", "authorization"],
    },
    // Automatic persisted queries (the hash protocol of Apollo Client and urql): a document is sent once, then
    // by its SHA-256 only, cached for 15 min in Redis (or in memory in embedded mode); a hash the cache does not
    // know answers PERSISTED_QUERY_NOT_FOUND and the client sends the document again. PERSISTED_QUERIES=only
    // looks hashes up in the registry instead, =off turns them off (persisted-queries.ts).
    persistedQueries: deps.persistedQueries,
    // Batches (Apollo Client's BatchHttpLink): at most MAX_BATCH_OPERATIONS, checked before Apollo sees them
    // (http-front.ts); each operation passes the same validation limits and counts against the caller's rate.
    allowBatchedHttpRequests: true,
    includeStacktraceInErrorResponses: false,
    validationRules: queryLimitRules(),
    parseOptions: queryParseOptions(),
    // Only the codes; the errors plugin, which knows the request, logs what is hidden and adds the request id.
    formatError: (formatted, error) => formatError(formatted, error),
    logger: {
      debug: (message: string) => logger.debug(message),
      info: (message: string) => logger.info(message),
      warn: (message: string) => logger.warn(message),
      error: (message: string) => logger.error(message),
    },
    plugins: [
      // In-flight requests get most of the shutdown time; what is still open after that is cut.
      ApolloServerPluginDrainHttpServer({
        httpServer: deps.httpServer,
        stopGracePeriodMillis: Math.max(500, deps.shutdownTimeoutMs - 2_000),
      }),
      ApolloServerPluginLandingPageDisabled(),
      { serverWillStart: () => Promise.resolve({ drainServer: () => deps.drainWebSockets() }) },
      errorsPlugin(logger),
      // The cost estimate needs the variables' values: it runs once the operation is resolved, not in validation.
      queryCostPlugin(),
      // No HTTP caching of GraphQL answers is offered, so the per-field cache-control bookkeeping is skipped.
      ApolloServerPluginCacheControlDisabled(),
      {
        // A subscription sent over HTTP would fail deep inside execution; say plainly where subscriptions live.
        requestDidStart: () =>
          Promise.resolve({
            didResolveOperation: ({ operation }) => {
              if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
                throw new GraphQLError(
                  "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP",
                  { extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } } },
                );
              }
              return Promise.resolve();
            },
          }),
      },
    ],
  });
  await apollo.start();
  return apollo;
}
