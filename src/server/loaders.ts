import type { LoaderFactory, LoaderKey, Loaders } from "../auth/context";

/**
 * The loaders of one request, from the modules' factories. Each is made on first use and kept: one set per
 * request, so cached rows never outlive it. A subscription keeps its context for every event it sends, so its
 * loaders batch but do not cache (`cache: false`), or each event would show the rows as they were at subscribe
 * time. Each domain writes its own queries; this only puts them together.
 */
export function loaderSource(factories: readonly LoaderFactory[]): (options: { cache: boolean }) => Loaders {
  const byKey = new Map<LoaderKey<unknown>, LoaderFactory>();
  for (const factory of factories) {
    if (byKey.has(factory.key)) throw new Error(`two modules provide the loader ${factory.key.name}`);
    byKey.set(factory.key, factory);
  }
  return (options) => {
    const made = new Map<LoaderKey<unknown>, unknown>();
    const loaders: Loaders = {
      get<T>(key: LoaderKey<T>): T {
        if (!made.has(key)) {
          const factory = byKey.get(key);
          if (!factory) throw new Error(`no module provides the loader ${key.name}`);
          made.set(key, factory.create(options, loaders));
        }
        return made.get(key) as T;
      },
    };
    return loaders;
  };
}

/** The loaders of one request from `factories` (`cache: false` for a subscription). */
export function createLoaders(factories: readonly LoaderFactory[], options: { cache: boolean }): Loaders {
  return loaderSource(factories)(options);
}
