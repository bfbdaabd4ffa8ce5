import { createParameterDecorator, type AuthChecker, type SubscribeResolverData } from "type-graphql";
import { unauthenticated } from "../errors/app-error";

/**
 * The name of one batched lookup, typed by what it gives. Each domain declares its keys beside its loaders; the
 * request context knows none of them.
 */
export interface LoaderKey<T> {
  readonly name: string;
  /** Never set: it only carries `T`. */
  readonly __loader?: T;
}

export function loaderKey<T>(name: string): LoaderKey<T> {
  return { name };
}

/**
 * Batched lookups for one request or one subscription event, so a page of 50 costs a few queries, not 150.
 * Each is made on first use and kept for the rest of the request.
 */
export interface Loaders {
  get<T>(key: LoaderKey<T>): T;
}

/**
 * How a domain makes the loader of `key` for one request. `cache: false` for a subscription, whose context
 * outlives each event; `loaders` lets one loader build on another of the same request.
 */
export interface LoaderFactory<T = unknown> {
  readonly key: LoaderKey<T>;
  create(options: { cache: boolean }, loaders: Loaders): T;
}

export function provideLoader<T>(
  key: LoaderKey<T>,
  create: (options: { cache: boolean }, loaders: Loaders) => T,
): LoaderFactory<T> {
  return { key, create };
}

/** A resolver class, as type-graphql's container knows it. */
export type ResolverClass<R> = abstract new (...args: never[]) => R;

/** The resolver instances the schema was built from, by class. */
export interface ResolverLookup {
  get<R>(cls: ResolverClass<R>): R;
}

/** What every resolver sees of the request. */
export interface GatewayContext {
  requestId: string;
  /** Set when the request carried a valid token. */
  userId?: string;
  /** Why there is no user, when a token was sent but rejected. */
  authError?: string;
  loaders: Loaders;
  /**
   * The resolver instances. A `@Subscription`'s `subscribe` function is handed no instance (type-graphql calls
   * it outside the container), so it finds its own here, with the services it was built with.
   */
  resolvers: ResolverLookup;
}

/** Every operation needs a caller; the error says what was wrong with the token, never what it was. */
export const authChecker: AuthChecker<GatewayContext> = ({ context }) => {
  if (!context.userId)
    throw unauthenticated(context.authError ?? "authentication required: send Authorization: Bearer <token>");
  return true;
};

/** The authenticated caller's user id (use under `@Authorized()`). */
export function CurrentUser() {
  return createParameterDecorator<GatewayContext>(({ context }) => {
    if (!context.userId) throw unauthenticated(context.authError);
    return context.userId;
  });
}

/**
 * The caller of a subscription, checked when it starts (the socket's token was checked at connect), and the
 * instance of `resolver` that serves it.
 */
export function subscriber<R>(
  { context }: SubscribeResolverData<unknown, unknown, object>,
  resolver: ResolverClass<R>,
): { userId: string; resolver: R } {
  const ctx = context as GatewayContext;
  if (!ctx.userId) throw unauthenticated(ctx.authError);
  return { userId: ctx.userId, resolver: ctx.resolvers.get(resolver) };
}
