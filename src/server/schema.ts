import "reflect-metadata";
import { GraphQLDateTime } from "graphql-scalars";
import { printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ResolverData } from "type-graphql";
import { authChecker, type GatewayContext } from "../auth/context";
import { ArtifactResolver } from "../artifacts/artifact.resolver";
import { CostResolver } from "../deployments/cost-report.resolver";
import { DeploymentResolver } from "../deployments/deployment.resolver";
import { TrainingJobResolver } from "../jobs/training-job.resolver";
import { ProviderSecretResolver } from "../secrets/provider-secret.resolver";
import { TrainingConfigResolver } from "../training-configs/training-config.resolver";
import { UserResolver } from "../users/user.resolver";
import { SubscriptionResolver } from "./subscription.resolver";
import { validateInput } from "./validate-input";

export const RESOLVERS = [
  UserResolver,
  ProviderSecretResolver,
  TrainingConfigResolver,
  DeploymentResolver,
  TrainingJobResolver,
  CostResolver,
  SubscriptionResolver,
  ArtifactResolver,
] as const;

type ResolverClass = (typeof RESOLVERS)[number];

/** Resolver instances, built by the composition root with their services. */
export type ResolverInstances = Map<ResolverClass, object>;

/**
 * Builds the executable schema. Without instances it can still be printed (the resolvers are only
 * instantiated when something is resolved).
 */
export function buildGatewaySchema(instances?: ResolverInstances): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...RESOLVERS],
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
    authChecker,
    authMode: "error",
    validateFn: validateInput,
    // Every @Subscription has its own `subscribe` over the EventBus (the afterStep replay needs more than a
    // topic), so type-graphql's topic-based PubSub is never used; it only insists that one exists.
    pubSub: {
      publish: () => {
        throw new Error("publish through the EventBus");
      },
      subscribe: () => {
        throw new Error("subscribe through the EventBus");
      },
    },
    container: {
      get: (cls: ResolverClass, _data: ResolverData<GatewayContext>) => {
        const instance = instances?.get(cls);
        if (!instance) throw new Error(`no resolver instance for ${cls.name}`);
        return instance;
      },
    },
  });
}

/** The SDL committed as `schema/schema.graphql`. */
export function printGatewaySchema(schema: GraphQLSchema): string {
  return `# Generated from the code by \`npm run schema:emit\`; do not edit. A test fails when it drifts.\n\n${printSchema(schema)}\n`;
}
