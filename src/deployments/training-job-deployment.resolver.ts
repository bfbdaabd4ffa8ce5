import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { GatewayContext } from "../auth/context";
import { TrainingJob } from "../jobs/training-job.entity";
import { Deployment } from "./deployment.entity";
import { deploymentByJobId } from "./deployment.loaders";

/** `TrainingJob.deployment`: every job has exactly one deployment, made in the same transaction. */
@Resolver(() => TrainingJob)
export class TrainingJobDeploymentResolver {
  @FieldResolver(() => Deployment, { description: "the deployment the job runs in" })
  async deployment(@Root() job: TrainingJob, @Ctx() ctx: GatewayContext): Promise<Deployment> {
    const deployment = await ctx.loaders.get(deploymentByJobId).load(job.id);
    if (!deployment) throw new Error(`training job ${job.id} has no deployment row`);
    return deployment;
  }
}
