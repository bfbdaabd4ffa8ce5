import DataLoader from "dataloader";
import { loaderKey, provideLoader, type LoaderFactory, type Loaders } from "../auth/context";
import type { NodeSource } from "./node.types";

/** One id asked for by one caller. */
export interface NodeKey {
  userId: string;
  id: string;
}

/**
 * The object a caller's id names, or null (unknown, malformed, or another caller's: the same null for all),
 * batched over the request: every `node` and `nodes` field of one query makes one lookup per type.
 */
export const nodeById = loaderKey<DataLoader<NodeKey, object | null, string>>("nodeById");

/** Asks every domain's source for the caller's objects among `ids`. */
async function findNodes(
  sources: readonly NodeSource[],
  userId: string,
  ids: readonly string[],
  loaders: Loaders,
): Promise<Map<string, object>> {
  const answers = await Promise.all(sources.map((source) => source.find(userId, ids, loaders)));
  const found = new Map<string, object>();
  for (const answer of answers) {
    for (const [id, node] of answer) if (!found.has(id)) found.set(id, node);
  }
  return found;
}

const cacheKey = ({ userId, id }: NodeKey): string => JSON.stringify([userId, id]);

/** The node loader over the domains' sources, for the request context to make per request. */
export function nodeLoaders(sources: readonly NodeSource[]): readonly LoaderFactory[] {
  return [
    provideLoader(
      nodeById,
      ({ cache }, loaders) =>
        new DataLoader<NodeKey, object | null, string>(
          async (keys) => {
            const idsByUser = new Map<string, string[]>();
            for (const { userId, id } of keys) idsByUser.set(userId, [...(idsByUser.get(userId) ?? []), id]);
            const found = new Map<string, object>();
            for (const [userId, ids] of idsByUser) {
              const nodes = await findNodes(sources, userId, ids, loaders);
              for (const [id, node] of nodes) found.set(cacheKey({ userId, id }), node);
            }
            return keys.map((key) => found.get(cacheKey(key)) ?? null);
          },
          { cache, cacheKeyFn: cacheKey },
        ),
    ),
  ];
}
