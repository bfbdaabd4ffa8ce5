import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from "type-graphql";
import { CurrentUser, type GatewayContext } from "../auth/context";
import { Deployment } from "../deployments/deployment.entity";
import type { MetricQueryService } from "../metrics/metric-query.service";
import { TrainingMetric } from "../metrics/training-metric.entity";
import { TrainingJob } from "./training-job.entity";
import type { TrainingJobService } from "./training-job.service";

@Resolver(() => TrainingJob)
export class TrainingJobResolver {
  constructor(
    private readonly jobs: TrainingJobService,
    private readonly metricQueries: MetricQueryService,
  ) {}

  @Authorized()
  @Query(() => TrainingJob, { nullable: true })
  trainingJob(@CurrentUser() userId: string, @Arg("id", () => ID) id: string): Promise<TrainingJob> {
    return this.jobs.get(userId, id);
  }

  @FieldResolver(() => TrainingMetric, { nullable: true })
  async latestMetric(@Root() job: TrainingJob, @Ctx() ctx: GatewayContext): Promise<TrainingMetric | null> {
    return (await ctx.loaders.latestMetricByJobId.load(job.id)) ?? null;
  }

  @FieldResolver(() => [TrainingMetric], {
    description:
      "history in step order, at most `limit` points; with maxPoints, the whole history after afterStep downsampled to at most maxPoints (LTTB on loss, first and last kept; limit is then ignored)",
  })
  metrics(
    @Root() job: TrainingJob,
    @Arg("afterStep", () => Int, { nullable: true }) afterStep: number | null,
    @Arg("limit", () => Int, { nullable: true, defaultValue: 1000 }) limit: number | null,
    @Arg("maxPoints", () => Int, { nullable: true }) maxPoints: number | null,
  ): Promise<TrainingMetric[]> {
    if (maxPoints != null) return this.metricQueries.downsampled(job.id, afterStep, maxPoints);
    return this.metricQueries.history(job.id, afterStep, limit);
  }

  @FieldResolver(() => Deployment)
  async deployment(@Root() job: TrainingJob, @Ctx() ctx: GatewayContext): Promise<Deployment> {
    const deployment = await ctx.loaders.deploymentByJobId.load(job.id);
    if (!deployment) throw new Error(`training job ${job.id} has no deployment row`);
    return deployment;
  }
}
