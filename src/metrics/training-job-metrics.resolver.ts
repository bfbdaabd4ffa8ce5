import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from "type-graphql";
import type { GatewayContext } from "../auth/context";
import { TrainingJob } from "../jobs/training-job.entity";
import { latestMetricByJobId } from "./metric.loaders";
import type { MetricQueryService } from "./metric-query.service";
import { TrainingMetric } from "./training-metric.entity";

/** A job's points: `TrainingJob.latestMetric` and `TrainingJob.metrics`. */
@Resolver(() => TrainingJob)
export class TrainingJobMetricsResolver {
  constructor(private readonly metricQueries: MetricQueryService) {}

  @FieldResolver(() => TrainingMetric, {
    description: "the most recent metric point; null before the first",
    nullable: true,
  })
  async latestMetric(@Root() job: TrainingJob, @Ctx() ctx: GatewayContext): Promise<TrainingMetric | null> {
    return (await ctx.loaders.get(latestMetricByJobId).load(job.id)) ?? null;
  }

  @FieldResolver(() => [TrainingMetric], {
    description:
      "history in step order, at most `limit` points; with maxPoints, the whole history after afterStep downsampled to at most maxPoints (LTTB on loss, first and last kept; limit is then ignored)",
  })
  metrics(
    @Root() job: TrainingJob,
    @Arg("afterStep", () => Int, { description: "only points with a step greater than this", nullable: true })
    afterStep: number | null,
    @Arg("limit", () => Int, {
      description: "at most this many points, 1..10000",
      nullable: true,
      defaultValue: 1000,
    })
    limit: number | null,
    @Arg("maxPoints", () => Int, {
      description: "downsample to at most this many points, 2..10000",
      nullable: true,
    })
    maxPoints: number | null,
  ): Promise<TrainingMetric[]> {
    if (maxPoints != null) return this.metricQueries.downsampled(job.id, afterStep, maxPoints);
    return this.metricQueries.history(job.id, afterStep, limit);
  }
}
