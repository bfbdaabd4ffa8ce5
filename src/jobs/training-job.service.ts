import type { DataSource } from "typeorm";
import { notFound } from "../errors/app-error";
import { isUuid } from "../db/ids";
import { TrainingJob } from "./training-job.entity";

/** Reads of the caller's training jobs. */
export class TrainingJobService {
  constructor(private readonly db: DataSource) {}

  async get(userId: string, id: string): Promise<TrainingJob> {
    const job = isUuid(id) ? await this.db.getRepository(TrainingJob).findOneBy({ id, userId }) : null;
    if (!job) throw notFound("training job");
    return job;
  }
}
