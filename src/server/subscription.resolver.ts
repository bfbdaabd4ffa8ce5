import { Arg, Authorized, ID, Int, Resolver, Root, Subscription } from "type-graphql";
import { BudgetAlert } from "../costs/cost.types";
import { Deployment } from "../deployments/deployment.entity";
import { notAvailableYet } from "../errors/app-error";
import { TrainingMetric } from "../metrics/training-metric.entity";

/** The three live streams (API.md "Subscription"). */
@Resolver()
export class SubscriptionResolver {
  @Authorized()
  @Subscription(() => TrainingMetric, {
    description:
      "afterStep omitted: live points only. afterStep given: first every stored point with step > afterStep in step order, then live points, with no gap and no duplicate in between.",
    subscribe: () => {
      throw notAvailableYet("trainingMetrics");
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
    subscribe: () => {
      throw notAvailableYet("deploymentUpdated");
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
    subscribe: () => {
      throw notAvailableYet("budgetAlerts");
    },
  })
  budgetAlerts(@Root() alert: BudgetAlert): BudgetAlert {
    return alert;
  }
}
