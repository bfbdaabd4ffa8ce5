import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from "type-graphql";
import { CurrentUser, type GatewayContext } from "../auth/context";
import { TrainingJob } from "../jobs/training-job.entity";
import type { ArtifactService } from "./artifact.service";
import { Artifact } from "./artifact.types";

@Resolver(() => TrainingJob)
export class ArtifactResolver {
  constructor(private readonly artifacts: ArtifactService) {}

  @FieldResolver(() => Artifact, {
    nullable: true,
    description: "the result stored at the gateway, once uploaded and verified",
  })
  async artifact(@Root() job: TrainingJob, @Ctx() ctx: GatewayContext): Promise<Artifact | null> {
    return (await this.artifacts.view(ctx.userId ?? "", job.id)) ?? null;
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "removes the stored result of one of the caller's jobs" })
  deleteArtifact(
    @CurrentUser() userId: string,
    @Arg("jobId", () => ID, { description: "the job whose result to remove" }) jobId: string,
  ): Promise<boolean> {
    return this.artifacts.delete(userId, jobId);
  }
}
