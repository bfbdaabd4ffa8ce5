import DataLoader from "dataloader";
import { In, type DataSource } from "typeorm";
import { loaderKey, provideLoader, type LoaderFactory } from "../auth/context";
import { TrainingJob } from "./training-job.entity";

/** A job by its id, batched over the request. */
export const jobById = loaderKey<DataLoader<string, TrainingJob | undefined>>("jobById");

/** The jobs' batched lookups, for the request context to make per request. */
export function trainingJobLoaders(db: DataSource): readonly LoaderFactory[] {
  return [
    provideLoader(
      jobById,
      ({ cache }) =>
        new DataLoader<string, TrainingJob | undefined>(
          async (ids) => {
            const rows = await db.getRepository(TrainingJob).findBy({ id: In([...ids]) });
            const byId = new Map(rows.map((row) => [row.id, row]));
            return ids.map((id) => byId.get(id));
          },
          { cache },
        ),
    ),
  ];
}
