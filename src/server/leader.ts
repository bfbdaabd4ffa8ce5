import { Client } from "pg";
import type { Logger } from "pino";

/**
 * Which replica runs the background work that must happen once (the pod supervisor, webhook delivery, artifact
 * retention).
 *
 * On PostgreSQL: a session-level advisory lock held on a connection of its own. Whoever holds it leads; if that
 * replica dies, its connection closes, the lock is released and another replica takes it on its next try.
 * Embedded mode has one process by construction, so it always leads.
 */
export interface LeaderLock {
  /** Whether this replica leads now (tries to become leader when it does not). */
  isLeader(): Promise<boolean>;
  release(): Promise<void>;
}

export function createLeaderLock(databaseUrl: string | undefined, logger: Logger): LeaderLock {
  return databaseUrl
    ? new AdvisoryLeaderLock(databaseUrl, logger)
    : { isLeader: () => Promise.resolve(true), release: () => Promise.resolve() };
}

class AdvisoryLeaderLock implements LeaderLock {
  private client: Client | undefined;
  private leading = false;
  /** One election at a time: concurrent callers (every background task) share it. */
  private pending: Promise<boolean> | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  isLeader(): Promise<boolean> {
    this.pending ??= this.elect().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async elect(): Promise<boolean> {
    try {
      if (!this.client) {
        const client = new Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 5_000 });
        client.on("error", (error: Error) => {
          this.logger.warn({ err: error.message }, "leader connection lost");
          void this.forget();
        });
        await client.connect();
        this.client = client;
      }
      if (this.leading) {
        // Still our session? A cheap round trip proves the connection (and with it the lock) is alive.
        await this.client.query("SELECT 1");
        return true;
      }
      const result = await this.client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtext('traingate:background')) AS locked`,
      );
      this.leading = result.rows[0]?.locked === true;
      if (this.leading) this.logger.info("this replica now runs the background work");
      return this.leading;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, "leader election failed");
      await this.forget();
      return false;
    }
  }

  release(): Promise<void> {
    return this.forget();
  }

  /** Drops the connection; ending it releases the lock if we held it. */
  private async forget(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leading = false;
    if (!client) return;
    client.removeAllListeners("error");
    client.on("error", () => undefined);
    await client.end().catch(() => undefined);
  }
}
