import DataLoader from "dataloader";
import type { DataSource } from "typeorm";
import { jobErrors } from "./training-job.errors";
import { isUuid } from "../db/ids";
import { TrainingJob } from "./training-job.entity";

/** Reads of the caller's training jobs. */
export class TrainingJobService {
  /**
   * Owners of the jobs asked about in one turn of the event loop, read with one query. A reconnect storm (a
   * replica restarts and thousands of dashboards subscribe again at once) then costs a few queries instead of
   * one pool checkout per subscription, which ran the pool out and failed subscriptions. Nothing is cached
   * between turns: a deleted job is gone at once.
   */
  private readonly owners = new DataLoader<string, string | null>(
    async (ids) => {
      const rows = await this.db.query<{ id: string; user_id: string }[]>(
        `SELECT id, user_id FROM training_jobs WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      const owner = new Map(rows.map((row) => [row.id, row.user_id]));
      return ids.map((id) => owner.get(id) ?? null);
    },
    { cache: false, batchScheduleFn: (run) => setImmediate(run), maxBatchSize: 1_000 },
  );

  constructor(private readonly db: DataSource) {}

  async get(userId: string, id: string): Promise<TrainingJob> {
    const job = isUuid(id) ? await this.db.getRepository(TrainingJob).findOneBy({ id, userId }) : null;
    if (!job) throw jobErrors.notFound();
    return job;
  }

  /** NOT_FOUND unless the job exists and is the caller's (another user's job looks exactly like no job). */
  async assertOwned(userId: string, id: string): Promise<void> {
    if (!isUuid(id) || (await this.owners.load(id)) !== userId) throw jobErrors.notFound();
  }
}
