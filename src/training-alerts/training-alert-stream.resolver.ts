import { Arg, Authorized, ID, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { subscriber } from "../auth/context";
import type { TrainingAlertStream } from "./training-alert-stream";
import { TrainingAlert } from "./training-alert.types";

@Resolver()
export class TrainingAlertStreamResolver {
  constructor(readonly stream: TrainingAlertStream) {}

  @Authorized()
  @Subscription(() => TrainingAlert, {
    description: "NaN loss, loss spike, stalled pod, GPU memory and OOM alerts of the caller's runs",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, resolver } = subscriber(data, TrainingAlertStreamResolver);
      return resolver.stream.subscribe(userId, (data.args as { deploymentId?: string | null }).deploymentId);
    },
  })
  trainingAlerts(
    @Root() alert: TrainingAlert,
    @Arg("deploymentId", () => ID, {
      description: "the deployment to follow; omitted: all of the caller's",
      nullable: true,
    })
    _deploymentId: string | null,
  ): TrainingAlert {
    return alert;
  }
}
