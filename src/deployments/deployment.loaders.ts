import DataLoader from "dataloader";
import { In, type DataSource } from "typeorm";
import { Deployment } from "./deployment.entity";

/** The deployments' batched lookups of one request. */
export interface DeploymentLoaders {
  deploymentByJobId: DataLoader<string, Deployment | undefined>;
}

/** `cache: false` for a subscription, whose context outlives each event (see the request context). */
export function createDeploymentLoaders(db: DataSource, options: { cache: boolean }): DeploymentLoaders {
  return {
    deploymentByJobId: new DataLoader(
      async (jobIds) => {
        const rows = await db.getRepository(Deployment).findBy({ jobId: In([...jobIds]) });
        const byJob = new Map(rows.map((row) => [row.jobId, row]));
        return jobIds.map((id) => byJob.get(id));
      },
      { cache: options.cache },
    ),
  };
}
