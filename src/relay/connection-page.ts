import { pageSizes, type PageArguments } from "./page-arguments";

/** Relay's `PageInfo`, as every connection answers it. */
export interface PageInfoValues {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** How a connection reads its rows: the list's own order is "forward"; each read stays between the cursors. */
export interface ConnectionSource<Row> {
  /** Up to `limit` rows between the cursors, in the list's order (`forward`) or the reverse (`backward`). */
  window(direction: "forward" | "backward", limit: number): Promise<Row[]>;
  /**
   * Whether any row lies before `after`'s row or is it (`previous`), or lies after `before`'s row or is it
   * (`next`); asked only when that cursor was given.
   */
  existsBeyond(side: "previous" | "next"): Promise<boolean>;
  cursor(row: Row): string;
}

/**
 * One page of a Relay connection, as the cursor connections spec says: `first`/`after` page forward,
 * `last`/`before` backward (both: the first `first` of the window between the cursors, then the last `last` of
 * those). Where the spec lets a server answer false without looking (hasPreviousPage past `after` when paging
 * forward, hasNextPage past `before` backward), one more read looks, so a client gets the truth.
 */
export async function connectionPage<Row>(
  page: PageArguments,
  source: ConnectionSource<Row>,
): Promise<{ edges: { cursor: string; node: Row }[]; pageInfo: PageInfoValues }> {
  const { first, last } = pageSizes(page);
  let rows: Row[];
  let hasNextPage: boolean;
  let hasPreviousPage: boolean;
  if (first !== null) {
    // One row past the larger size tells whether the window holds more than `first`, and more than `last`.
    const window = await source.window("forward", Math.max(first, last ?? 0) + 1);
    rows = window.slice(0, first);
    hasNextPage = window.length > first;
    if (last !== null) {
      rows = rows.slice(Math.max(0, rows.length - last));
      hasPreviousPage = window.length > last;
    } else {
      hasPreviousPage = page.after ? await source.existsBeyond("previous") : false;
    }
  } else {
    const window = await source.window("backward", last! + 1);
    rows = window.slice(0, last!).reverse();
    hasPreviousPage = window.length > last!;
    hasNextPage = page.before ? await source.existsBeyond("next") : false;
  }
  const edges = rows.map((node) => ({ cursor: source.cursor(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage,
      startCursor: edges.at(0)?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
