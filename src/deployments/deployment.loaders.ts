import DataLoader from "dataloader";
import { In, type DataSource } from "typeorm";
import { loaderKey, provideLoader, type LoaderFactory } from "../auth/context";
import { Deployment } from "./deployment.entity";

/** A job's deployment, batched over the request. */
export const deploymentByJobId = loaderKey<DataLoader<string, Deployment | undefined>>("deploymentByJobId");

/**
 * The seconds of training a job's trainer last reported as left (null or undefined when it has not said), for
 * the projected cost. The metrics module provides it: the points are its data.
 */
export const remainingSecondsByJobId = loaderKey<{ load(jobId: string): Promise<number | null | undefined> }>(
  "remainingSecondsByJobId",
);

/** The deployments' batched lookups, for the request context to make per request. */
export function deploymentLoaders(db: DataSource): readonly LoaderFactory[] {
  return [
    provideLoader(
      deploymentByJobId,
      ({ cache }) =>
        new DataLoader<string, Deployment | undefined>(
          async (jobIds) => {
            const rows = await db.getRepository(Deployment).findBy({ jobId: In([...jobIds]) });
            const byJob = new Map(rows.map((row) => [row.jobId, row]));
            return jobIds.map((id) => byJob.get(id));
          },
          { cache },
        ),
    ),
  ];
}
