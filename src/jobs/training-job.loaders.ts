import DataLoader from "dataloader";
import { In, type DataSource } from "typeorm";
import { TrainingJob } from "./training-job.entity";

/** The jobs' batched lookups of one request. */
export interface TrainingJobLoaders {
  jobById: DataLoader<string, TrainingJob | undefined>;
}

/** `cache: false` for a subscription, whose context outlives each event (see the request context). */
export function createTrainingJobLoaders(db: DataSource, options: { cache: boolean }): TrainingJobLoaders {
  return {
    jobById: new DataLoader(
      async (ids) => {
        const rows = await db.getRepository(TrainingJob).findBy({ id: In([...ids]) });
        const byId = new Map(rows.map((row) => [row.id, row]));
        return ids.map((id) => byId.get(id));
      },
      { cache: options.cache },
    ),
  };
}
