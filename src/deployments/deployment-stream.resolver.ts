import { Arg, Authorized, ID, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { subscriber } from "../auth/context";
import type { DeploymentStream } from "./deployment-stream";
import { Deployment } from "./deployment.entity";

@Resolver()
export class DeploymentStreamResolver {
  constructor(readonly stream: DeploymentStream) {}

  @Authorized()
  @Subscription(() => Deployment, {
    description: "status/cost changes of one, or all, of the caller's deployments",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, resolver } = subscriber(data, DeploymentStreamResolver);
      return resolver.stream.subscribe(userId, (data.args as { id?: string | null }).id);
    },
  })
  deploymentUpdated(
    @Root() deployment: Deployment,
    @Arg("id", () => ID, {
      description: "the deployment to follow; omitted: all of the caller's",
      nullable: true,
    })
    _id: string | null,
  ): Deployment {
    return deployment;
  }
}
