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
import type { GatewayContext } from "../auth/context";
import { BudgetAlert } from "../supervision/budget-alert.types";
import { Deployment } from "../deployments/deployment.entity";
import { unauthenticated } from "../errors/app-error";
import { TrainingMetric } from "../metrics/training-metric.entity";

/** The caller of a subscription, checked when it starts (the socket's token was checked at connect). */
function caller({ context }: SubscribeResolverData<unknown, unknown, object>): {
  userId: string;
  context: GatewayContext;
} {
  const ctx = context as GatewayContext;
  if (!ctx.userId) throw unauthenticated(ctx.authError);
  return { userId: ctx.userId, context: ctx };
}

/** The three live streams (API.md "Subscription"); the work is in SubscriptionService. */
@Resolver()
export class SubscriptionResolver {
  @Authorized()
  @Subscription(() => TrainingMetric, {
    description:
      "afterStep omitted: live points only. afterStep given: first every stored point with step > afterStep in step order, then live points, with no gap and no duplicate in between.",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, context } = caller(data);
      const args = data.args as { jobId: string; afterStep?: number | null };
      return context.subscriptions.trainingMetrics(userId, args.jobId, args.afterStep);
    },
  })
  trainingMetrics(
    @Root() point: TrainingMetric,
    @Arg("jobId", () => ID) _jobId: string,
    @Arg("afterStep", () => Int, { nullable: true }) _afterStep: number | null,
  ): TrainingMetric {
    return point;
  }

  @Authorized()
  @Subscription(() => Deployment, {
    description: "status/cost changes of one, or all, of the caller's deployments",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, context } = caller(data);
      return context.subscriptions.deploymentUpdated(userId, (data.args as { id?: string | null }).id);
    },
  })
  deploymentUpdated(
    @Root() deployment: Deployment,
    @Arg("id", () => ID, { nullable: true }) _id: string | null,
  ): Deployment {
    return deployment;
  }

  @Authorized()
  @Subscription(() => BudgetAlert, {
    description: "the caller's threshold crossings and budget stops",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, context } = caller(data);
      return context.subscriptions.budgetAlerts(userId);
    },
  })
  budgetAlerts(@Root() alert: BudgetAlert): BudgetAlert {
    return alert;
  }
}
