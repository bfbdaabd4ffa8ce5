import type { PersistedQueryOptions } from "@apollo/server";
import { PrefixingKeyValueCache, type KeyValueCache } from "@apollo/utils.keyvaluecache";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { PersistedQueryMode } from "../config/env";
import { isDatabaseUnavailable } from "../db/unavailable";
import { AppError, ErrorCode, serviceUnavailable } from "../errors/app-error";
import { documentHash, PersistedDocumentRegistry } from "../persisted-queries/persisted-document.registry";
import { persistedQueryErrors } from "../persisted-queries/persisted-query.errors";
import { RedisDocumentCache } from "../persisted-queries/redis-document-cache";
import { formatError } from "./format-error";

/** How long a document sent once is known by its hash alone (`auto`), in seconds. */
const APQ_TTL_SECONDS = 900;

/** A SHA-256 as the automatic-persisted-query protocol writes it (and `documentHash` computes it). */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** What `PERSISTED_QUERIES` makes of the transports. */
export interface PersistedQueries {
  /** Apollo's `persistedQueries` option. */
  readonly apollo: PersistedQueryOptions | false;
  /** `only`: the registry every operation, over HTTP and WebSocket, must be in. */
  readonly safelist?: Safelist;
  close(): Promise<void>;
}

/**
 * `auto`: Apollo's automatic persisted queries, cached in Redis with `REDIS_URL` (every replica knows a hash any
 * of them was sent) and in Apollo's bounded in-memory cache otherwise (embedded mode has one replica). `only`:
 * the hashes Apollo looks up are the registry's, and nothing else runs (see `Safelist`). `off`: Apollo answers a
 * hash PersistedQueryNotSupported, on which clients stop sending hashes.
 */
export async function createPersistedQueries(
  config: { persistedQueries: PersistedQueryMode; redisUrl?: string },
  db: DataSource,
  logger: Logger,
): Promise<PersistedQueries> {
  switch (config.persistedQueries) {
    case "auto": {
      if (!config.redisUrl) return { apollo: { ttl: APQ_TTL_SECONDS }, close: () => Promise.resolve() };
      const cache = await RedisDocumentCache.connect(
        config.redisUrl,
        { prefix: "traingate:", defaultTtlSeconds: APQ_TTL_SECONDS },
        logger.child({ component: "persisted-queries" }),
      );
      return { apollo: { ttl: APQ_TTL_SECONDS, cache }, close: () => cache.close() };
    }
    case "only": {
      const safelist = new Safelist(new PersistedDocumentRegistry(db));
      return { apollo: { cache: safelist.cache() }, safelist, close: () => Promise.resolve() };
    }
    case "off":
      return { apollo: false, close: () => Promise.resolve() };
  }
}

/** An operation as a transport received it: `query` and `extensions` are whatever the client sent. */
export interface SentOperation {
  query?: unknown;
  extensions?: unknown;
}

/**
 * `PERSISTED_QUERIES=only`: an operation runs only if every hash it names is registered, the
 * `persistedQuery.sha256Hash` it sends and the SHA-256 of the document it sends alike; anything else is refused
 * with BAD_REQUEST before it is parsed.
 */
export class Safelist {
  constructor(private readonly registry: PersistedDocumentRegistry) {}

  /**
   * The registered document an operation names (undefined when it names none: the transport refuses it as
   * having no document). Throws the AppError that refuses it: BAD_REQUEST, or SERVICE_UNAVAILABLE while the
   * database does not answer.
   */
  async admit(operation: SentOperation): Promise<string | undefined> {
    let admitted: string | undefined;
    for (const hash of operationHashes(operation)) {
      if (!SHA256_HEX.test(hash)) throw persistedQueryErrors.malformedHash();
      let document: string | undefined;
      try {
        document = await this.registry.document(hash);
      } catch (error) {
        throw isDatabaseUnavailable(error) ? serviceUnavailable() : error;
      }
      if (document === undefined) throw persistedQueryErrors.unregistered(hash);
      admitted ??= document;
    }
    return admitted;
  }

  /**
   * The registry as Apollo's persisted-query cache: a registered hash sent alone runs. Read-only, and keyed by
   * the bare hash (no prefix of Apollo's).
   */
  cache(): KeyValueCache<string> {
    return PrefixingKeyValueCache.cacheDangerouslyDoesNotNeedPrefixesForIsolation({
      // `admit` has looked the hash up first, so this is the registry's remembered answer.
      get: (hash: string) => this.registry.document(hash).catch(() => undefined),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(false),
    });
  }

  /** The Express handler that admits every operation of a request (a batch's included) before Apollo sees it. */
  httpGuard(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      Promise.all(sentOperations(req).map((operation) => this.admit(operation)))
        .then(() => next())
        .catch((error: unknown) => {
          if (!(error instanceof AppError)) return next(error);
          const retryAfter = error.details.retryAfterSeconds;
          if (retryAfter !== undefined) res.setHeader("retry-after", String(retryAfter));
          res
            .status(error.code === ErrorCode.SERVICE_UNAVAILABLE ? 503 : 400)
            .json({ errors: [formatError({ message: error.message }, error)] });
        });
    };
  }

  /** `admit` for a WebSocket subscribe message: the document to run, or the errors to answer it with. */
  async admitSubscription(operation: SentOperation & { query: string }): Promise<string | GraphQLError[]> {
    try {
      return (await this.admit(operation)) ?? operation.query;
    } catch (error) {
      if (error instanceof AppError) return [new GraphQLError(error.message, { originalError: error })];
      throw error;
    }
  }
}

/** The hashes an operation names: its `persistedQuery.sha256Hash`, and the SHA-256 of its document. */
export function operationHashes(operation: SentOperation): string[] {
  const hashes: string[] = [];
  const extensions = operation.extensions;
  const persisted =
    typeof extensions === "object" && extensions !== null
      ? (extensions as { persistedQuery?: { sha256Hash?: unknown } }).persistedQuery
      : undefined;
  if (typeof persisted?.sha256Hash === "string") hashes.push(persisted.sha256Hash);
  if (typeof operation.query === "string" && operation.query !== "")
    hashes.push(documentHash(operation.query));
  return hashes;
}

/**
 * The operations of an HTTP request as Apollo will read them: a POST's JSON body (one, or a batch), or a GET's
 * `query` and `extensions` parameters (each value, should one be given twice).
 */
function sentOperations(req: Request): SentOperation[] {
  if (req.method !== "GET") {
    const body: unknown = req.body;
    const operations: unknown[] = Array.isArray(body) ? body : [body];
    return operations.filter((op): op is SentOperation => typeof op === "object" && op !== null);
  }
  const params = new URLSearchParams(req.url.split("?")[1] ?? "");
  return [
    ...params.getAll("query").map((query) => ({ query })),
    ...params.getAll("extensions").map((extensions) => ({ extensions: parseJson(extensions) })),
  ];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Apollo refuses it; there is no hash in it to check.
    return undefined;
  }
}
