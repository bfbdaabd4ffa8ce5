import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import {
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type FormattedExecutionResult,
  type GraphQLSchema,
  type ValidationRule,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import type { GatewayContext } from "../auth/context";
import { ErrorCode } from "../errors/app-error";
import type { TokenVerifier } from "../auth/jwt";
import { logHiddenErrors } from "./errors-plugin";
import { formatError } from "./format-error";
import type { Safelist } from "./persisted-queries";
import { sharedResultJson, subscribeShared } from "./shared-execution";
import { queryCostError, queryLimitRules, queryParseOptions } from "./query-limits";

export interface WebSocketOptions {
  httpServer: Server;
  schema: GraphQLSchema;
  logger: Logger;
  verifyToken: TokenVerifier;
  contextFor(authorization: string | undefined): Promise<GatewayContext>;
  /** PERSISTED_QUERIES=only: the registry a subscribe message's document (or its hash alone) must be in. */
  safelist?: Safelist;
}

/** What a connection carries between graphql-ws callbacks. */
type ConnectionExtra = { authorization: string };

/**
 * GraphQL over WebSocket (graphql-transport-ws) on `/graphql`. The token travels in `connection_init` as
 * `{ "authorization": "Bearer <JWT>" }`; a missing or bad one closes the socket with 4403. Every operation
 * goes through the same parser limits and validation rules as on HTTP.
 */
export function attachWebSocketServer(options: WebSocketOptions): { dispose(): Promise<void> } {
  const wsServer = new WebSocketServer({
    server: options.httpServer,
    path: "/graphql",
    maxPayload: 1024 * 1024,
  });
  wsServer.on("connection", (socket, request) => coalesceWrites(socket, request.socket));
  const rules = [...specifiedRules, ...queryLimitRules()];
  const documents = new DocumentCache(options.schema, rules);
  const format = (errors: readonly GraphQLError[], requestId?: string) => {
    logHiddenErrors(errors, options.logger, requestId);
    return errors.map((error) => formatError(error.toJSON(), error));
  };

  const cleanup = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      schema: options.schema,
      subscribe: subscribeShared,
      // Returning false closes the socket with 4403 Forbidden, what a client is promised for a missing or bad
      // token.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const raw = params.authorization ?? params.Authorization;
        const authorization = typeof raw === "string" ? raw : undefined;
        if (!authorization) return false;
        try {
          const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
          if (!token) return false;
          await options.verifyToken(token);
        } catch {
          return false;
        }
        ctx.extra.authorization = authorization;
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // The context first: every subscribe message counts against the caller's request limit, even one
        // whose document is refused. Its refusals (RATE_LIMITED, SERVICE_UNAVAILABLE) are this operation's error.
        let contextValue: GatewayContext;
        try {
          contextValue = await options.contextFor(ctx.extra.authorization);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        // A registered hash may come alone (`query: ""` with `extensions.persistedQuery`): its document runs.
        const query = options.safelist ? await options.safelist.admitSubscription(payload) : payload.query;
        if (typeof query !== "string") return query;
        const { document, errors } = documents.get(query);
        if (errors.length > 0 || !document) return errors;
        // The cost depends on the variables, so it is checked per subscribe message, not cached with the document.
        const operation = getOperationAST(document, payload.operationName);
        const tooCostly =
          operation && queryCostError(options.schema, document, operation, payload.variables ?? undefined);
        if (tooCostly) return [tooCostly];
        const args: ExecutionArgs = {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
        return args;
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onNext: (_ctx, _id, _payload, args, result) => {
        if (result.errors)
          return {
            ...result,
            errors: format(result.errors, (args.contextValue as GatewayContext).requestId),
          };
        const json = sharedResultJson(result);
        // Cast: graphql-ws only hands the payload to JSON.stringify.
        return json === undefined ? undefined : (new SerialisedPayload(json) as FormattedExecutionResult);
      },
    },
    wsServer,
    // Keep-alive: a ping every 12 s; a client that does not answer is dropped.
    12_000,
  );
  return {
    dispose: async () => {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/**
 * A `next` payload whose JSON is already made (a point's result shared by all its subscribers, see
 * `sharedResultJson`). graphql-ws serialises every message itself, and each subscriber's differs by its `id`:
 * this payload serialises as `PLACEHOLDER`, and the socket's `send` (see `coalesceWrites`) puts the JSON in its
 * place, so a subscriber costs one string concatenation instead of a `JSON.stringify` of the point. graphql-ws
 * calls `send` right after `JSON.stringify`, in the same synchronous step, so the payload serialised last is the
 * one that message carries.
 */
class SerialisedPayload {
  constructor(private readonly json: string) {}

  toJSON(): string {
    lastSerialised = this.json;
    return PLACEHOLDER;
  }
}

const PLACEHOLDER = "\u0000traingate:serialised-payload";
/** How a `next` message with a `SerialisedPayload` ends: the placeholder, then the message's closing brace. */
const PLACEHOLDER_END = `${JSON.stringify(PLACEHOLDER)}}`;
let lastSerialised: string | undefined;

/** `data` with the payload serialised last in place of its placeholder; `data` itself for any other message. */
function withSerialisedPayload(data: unknown): unknown {
  const json = lastSerialised;
  if (json === undefined) return data;
  lastSerialised = undefined;
  if (typeof data !== "string" || !data.endsWith(PLACEHOLDER_END)) return data;
  return `${data.slice(0, -PLACEHOLDER_END.length)}${json}}`;
}

/** Bytes a socket may hold unsent before a sender has to wait for the network (see `coalesceWrites`). */
const SOCKET_BUFFER_BYTES = 256 * 1024;

/**
 * Frames sent to one socket in the same turn of the event loop leave in one write. A published batch of ten
 * points reaches each subscriber as ten `next` messages; written one by one, each is its own `writev` system
 * call (half of a replica's CPU in bench/fanout). graphql-ws waits for each message's write callback before it
 * takes the next result, so the socket is corked at the first frame of a turn, uncorked in the same loop
 * iteration (`setImmediate`, after the microtasks that deliver the batch), and the callback is answered at
 * once while the socket holds less than `SOCKET_BUFFER_BYTES`. Past that the sender waits for the real write,
 * as before: a subscriber that does not read cannot make the server buffer more than that per socket (its
 * subscriptions' own bounded queues take the rest). Every frame also passes `withSerialisedPayload` first.
 */
function coalesceWrites(socket: WebSocket, transport: Duplex): void {
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  let corked = false;
  const flush = () => {
    corked = false;
    transport.uncork();
  };
  socket.send = ((...args: unknown[]) => {
    args[0] = withSerialisedPayload(args[0]);
    if (!corked && transport.writable) {
      corked = true;
      transport.cork();
      setImmediate(flush);
    }
    const done = args.at(-1);
    if (typeof done !== "function" || transport.writableLength >= SOCKET_BUFFER_BYTES) {
      send(...args);
      return;
    }
    // A failed write closes the socket, and graphql-ws learns of it from the close.
    send(...args.slice(0, -1), () => undefined);
    process.nextTick(done);
  }) as WebSocket["send"];
}

/**
 * Parsed and validated documents by query text. A dashboard's ten thousand subscriptions send the same few
 * documents: each is parsed and validated once, and all subscriptions share one AST (which graphql-js keeps for
 * as long as a subscription lives). Bounded: the oldest entry goes when it is full.
 */
class DocumentCache {
  private readonly entries = new Map<string, { document?: DocumentNode; errors: readonly GraphQLError[] }>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rules: readonly ValidationRule[],
    private readonly maxEntries = 500,
  ) {}

  get(query: string): { document?: DocumentNode; errors: readonly GraphQLError[] } {
    const hit = this.entries.get(query);
    if (hit) return hit;
    let entry: { document?: DocumentNode; errors: readonly GraphQLError[] };
    // Coded as Apollo codes them over HTTP; a limit rule's own code (QUERY_TOO_COMPLEX) is kept.
    try {
      const document = parse(query, queryParseOptions());
      entry = {
        document,
        errors: validate(this.schema, document, this.rules).map((error) =>
          withCode(error, ErrorCode.GRAPHQL_VALIDATION_FAILED),
        ),
      };
    } catch (error) {
      entry = {
        errors: [
          withCode(
            error instanceof GraphQLError ? error : new GraphQLError("the query could not be parsed"),
            ErrorCode.GRAPHQL_PARSE_FAILED,
          ),
        ],
      };
    }
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(query, entry);
    return entry;
  }
}

/** `error` with `code` when it has none of its own. */
function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  if (error.extensions.code) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}
