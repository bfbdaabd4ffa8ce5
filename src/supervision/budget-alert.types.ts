import { Field, Float, Int, ObjectType } from "type-graphql";
import { BudgetAction } from "../costs/budget";
import { Deployment } from "../deployments/deployment.entity";

/** A budget threshold crossing, as the `budgetAlerts` subscription sends it. */
@ObjectType()
export class BudgetAlert {
  @Field(() => Deployment)
  deployment: Deployment;

  @Field(() => Int)
  thresholdPercent: number;

  @Field(() => Float)
  actualCostUsd: number;

  @Field(() => Float)
  budgetLimitUsd: number;

  @Field(() => BudgetAction)
  action: BudgetAction;

  @Field()
  at: Date;
}
