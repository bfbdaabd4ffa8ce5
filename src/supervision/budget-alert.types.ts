import { Field, Float, Int, ObjectType } from "type-graphql";
import { BudgetAction } from "../costs/budget";
import { Deployment } from "../deployments/deployment.entity";

/** A budget threshold crossing, as the `budgetAlerts` subscription sends it. */
@ObjectType({ description: "a deployment's cost crossed a budget threshold" })
export class BudgetAlert {
  @Field(() => Deployment, { description: "the deployment" })
  deployment: Deployment;

  @Field(() => Int, { description: "the threshold crossed, percent of the budget" })
  thresholdPercent: number;

  @Field(() => Float, { description: "its cost at the crossing, USD" })
  actualCostUsd: number;

  @Field(() => Float, { description: "its budget, USD" })
  budgetLimitUsd: number;

  @Field(() => BudgetAction, { description: "what the gateway did" })
  action: BudgetAction;

  @Field({ description: "when the threshold was crossed" })
  at: Date;
}
