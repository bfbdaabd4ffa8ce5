import { EventEmitter } from "node:events";
import { types, type PGlite } from "@electric-sql/pglite";

/**
 * A `pg`-shaped module over one PGlite instance, handed to TypeORM's postgres driver as its `driver` option.
 *
 * PGlite is a single Postgres session. TypeORM expects a pool whose connections are separate sessions, so a
 * transaction on one query runner must not see, or swallow, statements from another. This pool therefore
 * leases the one session exclusively: `connect()` waits until the previous holder has released it. (The
 * typeorm-pglite package hands the same session to every caller at once, which interleaves concurrent
 * transactions; that is why it is not used.) A lease that is never released would block everything, so
 * waiting is bounded and fails loudly.
 */
export interface PglitePoolOptions {
  /** How long `connect()` waits for the session before failing. */
  leaseTimeoutMs?: number;
}

type Callback<T> = (error: Error | null, value?: T) => void;
type QueryResult = { rows: unknown[]; rowCount: number; command: string; fields: unknown[] };

/** PGlite parses int8 into JS numbers (or BigInt); node-postgres returns strings. Keep both the same. */
export const pgliteParsers = {
  [types.INT8]: (value: string) => value,
};

/**
 * `source` is either an open PGlite, which stays its creator's to close, or a way to open one on first use,
 * which this driver then owns and closes when TypeORM ends the pool.
 */
export function createPgliteDriver(
  source: PGlite | (() => Promise<PGlite>),
  options: PglitePoolOptions = {},
): { Pool: new () => EventEmitter } {
  const lease = new SessionLease(options.leaseTimeoutMs ?? 30_000);
  const owned = typeof source === "function";
  let opening: Promise<PGlite> | undefined = owned ? undefined : Promise.resolve(source);
  const open = (): Promise<PGlite> => (opening ??= (source as () => Promise<PGlite>)());

  class PgliteClient extends EventEmitter {
    query(sql: string, params?: unknown[] | Callback<QueryResult>, callback?: Callback<QueryResult>) {
      const cb = typeof params === "function" ? params : callback;
      const values = Array.isArray(params) ? params : undefined;
      const run = async (): Promise<QueryResult> => {
        const db = await open();
        if (values && values.length > 0) {
          const result = await db.query(sql, values);
          return {
            rows: result.rows,
            rowCount: result.affectedRows ?? result.rows.length,
            command: commandOf(sql),
            fields: result.fields,
          };
        }
        // Without parameters TypeORM may send several statements at once (migrations do); the simple
        // protocol runs them all, and TypeORM wants the last result.
        const results = await db.exec(sql);
        const last = results[results.length - 1];
        return {
          rows: last?.rows ?? [],
          rowCount: last?.affectedRows ?? last?.rows.length ?? 0,
          command: commandOf(sql),
          fields: last?.fields ?? [],
        };
      };
      const promise = run();
      if (cb) {
        promise.then(
          (result) => cb(null, result),
          (error: Error) => cb(error),
        );
        return undefined;
      }
      return promise;
    }
  }

  class PglitePool extends EventEmitter {
    private ended = false;

    connect(
      callback: (error: Error | null, client?: PgliteClient, release?: (error?: Error) => void) => void,
    ) {
      if (this.ended) {
        callback(new Error("the embedded database has been closed"));
        return;
      }
      Promise.all([lease.acquire(), open()]).then(
        ([release]) => callback(null, new PgliteClient(), () => release()),
        (error: Error) => callback(error),
      );
    }

    end(callback?: (error?: Error | null) => void) {
      this.ended = true;
      if (!owned || !opening) {
        callback?.(null);
        return;
      }
      opening
        .then((db) => (db.closed ? undefined : db.close()))
        .then(
          () => callback?.(null),
          (error: Error) => callback?.(error),
        );
    }
  }

  return { Pool: PglitePool };
}

function commandOf(sql: string): string {
  return /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "";
}

/** A FIFO mutex with a bounded wait. */
class SessionLease {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly timeoutMs: number) {}

  acquire(): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        this.held = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.held = false;
          this.waiters.shift()?.();
        });
      };
      if (!this.held) {
        grant();
        return;
      }
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`embedded database busy: no session within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const waiter = () => {
        clearTimeout(timer);
        grant();
      };
      this.waiters.push(waiter);
    });
  }
}
