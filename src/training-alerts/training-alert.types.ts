import { Field, Int, ObjectType } from "type-graphql";
import { BudgetAction } from "../costs/budget";
import { Deployment } from "../deployments/deployment.entity";
import { TrainingAlertKind } from "./training-alert.enums";

/** A training-health alert, as the `trainingAlerts` subscription sends it. */
@ObjectType({
  description: "a training run looks unhealthy: NaN loss, loss spike, stalled pod, GPU memory, OOM",
})
export class TrainingAlert {
  @Field(() => Deployment, { description: "the deployment" })
  deployment: Deployment;

  @Field(() => TrainingAlertKind, { description: "what the alert is about" })
  kind: TrainingAlertKind;

  @Field(() => Int, {
    nullable: true,
    description: "the step that raised it; null when no point did (stall, OOM)",
  })
  step: number | null;

  @Field({ description: "what was seen, for people" })
  message: string;

  @Field(() => BudgetAction, {
    nullable: true,
    description:
      "STOPPING when a health action (DeployTrainingInput.health) stops the run; NOTIFIED when it keeps running; null for an out-of-memory failure (the run already ended)",
  })
  action: BudgetAction | null;

  @Field({ description: "when the alert was raised" })
  at: Date;
}
