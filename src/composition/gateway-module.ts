import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import type { LoaderFactory } from "../auth/context";

/**
 * A raw `node:http` route, served before Express sees the request (pod callbacks, artifact bodies that must
 * stream). Answers and returns true when the request is its own; returns false, untouched, otherwise.
 */
export type RawRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Periodic work, run on the leading replica only; a task never overlaps itself. */
export interface BackgroundTask {
  name: string;
  intervalMs: number;
  run(): Promise<unknown>;
}

/**
 * What one domain adds to the gateway. Each domain folder exports one `create…Module(deps)` returning this;
 * `createGateway` composes a handful of them and knows nothing of what is inside.
 */
export interface GatewayModule {
  /** type-graphql resolver instances; the schema is built from their classes (`instance.constructor`). */
  readonly resolvers?: readonly object[];
  /** The batched lookups it offers the request context, made per request under each factory's key. */
  readonly loaders?: readonly LoaderFactory[];
  /** Raw routes, tried in order before Express. */
  readonly routes?: readonly RawRoute[];
  /** Express handlers (pages), mounted after the health routes and before `/graphql`. */
  readonly pages?: RequestHandler;
  /** Leader-only periodic work. */
  readonly background?: readonly BackgroundTask[];
  /** Released when the gateway closes, after the HTTP server stops and before the bus and database close. */
  close?(): Promise<void>;
}

type Contribution = "resolvers" | "loaders" | "routes" | "pages" | "background";
type Item<V> = V extends readonly (infer T)[] ? T : V;

/** What every module contributes of one kind, in module order. */
export function contributions<K extends Contribution>(
  modules: readonly GatewayModule[],
  kind: K,
): Item<NonNullable<GatewayModule[K]>>[] {
  return modules.flatMap((module) => module[kind] ?? []) as Item<NonNullable<GatewayModule[K]>>[];
}
