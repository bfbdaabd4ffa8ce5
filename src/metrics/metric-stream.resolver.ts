import {
  Arg,
  Authorized,
  ID,
  Int,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from "type-graphql";
import { subscriber } from "../auth/context";
import type { MetricStreamService } from "./metric-stream";
import { TrainingMetric } from "./training-metric.entity";

@Resolver()
export class MetricStreamResolver {
  constructor(readonly stream: MetricStreamService) {}

  @Authorized()
  @Subscription(() => TrainingMetric, {
    description:
      "afterStep omitted: live points only. afterStep given: first every stored point with step > afterStep in step order, then live points, with no gap and no duplicate in between.",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, resolver } = subscriber(data, MetricStreamResolver);
      const args = data.args as { jobId: string; afterStep?: number | null };
      return resolver.stream.subscribe(userId, args.jobId, args.afterStep);
    },
  })
  trainingMetrics(
    @Root() point: TrainingMetric,
    @Arg("jobId", () => ID, { description: "the job to follow" }) _jobId: string,
    @Arg("afterStep", () => Int, {
      description: "replay stored points after this step first",
      nullable: true,
    })
    _afterStep: number | null,
  ): TrainingMetric {
    return point;
  }
}
