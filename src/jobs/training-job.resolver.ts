import { Arg, Authorized, ID, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { TrainingJob } from "./training-job.entity";
import type { TrainingJobService } from "./training-job.service";

/**
 * The `trainingJob` query. The job's relations are resolved by the domains that own them: its deployment in
 * deployments/, its points in metrics/, its artifact in artifacts/.
 */
@Resolver(() => TrainingJob)
export class TrainingJobResolver {
  constructor(private readonly jobs: TrainingJobService) {}

  @Authorized()
  @Query(() => TrainingJob, {
    description: "one of the caller's training jobs; null when there is none with this id",
    nullable: true,
  })
  trainingJob(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the job's id" }) id: string,
  ): Promise<TrainingJob> {
    return this.jobs.get(userId, id);
  }
}
