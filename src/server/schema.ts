import "reflect-metadata";
import { GraphQLDateTime } from "graphql-scalars";
import { GraphQLScalarType, GraphQLSchema, printSchema } from "graphql";
import { buildSchema, getMetadataStorage } from "type-graphql";
import { authChecker, type ResolverClass, type ResolverLookup } from "../auth/context";
// The modules load in this order because it is the order of the root fields in the SDL: type-graphql
// registers each decorator as its file loads (mutations: artifacts, deployments, secrets, configs, webhooks;
// queries: costs, deployments, jobs, secrets, configs, users, webhooks; subscriptions: metrics, deployments,
// budget alerts, training alerts).
import { ARTIFACTS_RESOLVERS } from "../artifacts/artifacts.module";
import { METRICS_RESOLVERS } from "../metrics/metrics.module";
import { RELAY_RESOLVERS } from "../relay/relay.module";
import { DEPLOYMENTS_RESOLVERS } from "../deployments/deployments.module";
import { JOBS_RESOLVERS } from "../jobs/jobs.module";
import { SUPERVISION_RESOLVERS } from "../supervision/supervision.module";
import { TRAINING_ALERTS_RESOLVERS } from "../training-alerts/training-alerts.module";
import { SECRETS_RESOLVERS } from "../secrets/secrets.module";
import { TRAINING_CONFIGS_RESOLVERS } from "../training-configs/training-configs.module";
import { USERS_RESOLVERS } from "../users/users.module";
import { WEBHOOKS_RESOLVERS } from "../webhooks/webhooks.module";
import { validateInput } from "./validate-input";

/** Every resolver class, as each module lists its own: what the schema is printed from without services. */
const RESOLVER_CLASSES = [
  ...USERS_RESOLVERS,
  ...SECRETS_RESOLVERS,
  ...TRAINING_CONFIGS_RESOLVERS,
  ...DEPLOYMENTS_RESOLVERS,
  ...JOBS_RESOLVERS,
  ...SUPERVISION_RESOLVERS,
  ...TRAINING_ALERTS_RESOLVERS,
  ...METRICS_RESOLVERS,
  ...ARTIFACTS_RESOLVERS,
  ...RELAY_RESOLVERS,
  ...WEBHOOKS_RESOLVERS,
] as const;

/** The resolver instances the modules built, by class: type-graphql's container, and the request context's. */
export class ResolverRegistry implements ResolverLookup {
  private readonly byClass = new Map<unknown, object>();

  constructor(instances: readonly object[]) {
    for (const instance of instances) this.byClass.set(instance.constructor, instance);
    const unlisted = [...this.byClass.keys()].filter(
      (cls) => !(RESOLVER_CLASSES as readonly unknown[]).includes(cls),
    );
    const missing = RESOLVER_CLASSES.filter((cls) => !this.byClass.has(cls));
    // The SDL is printed from the modules' lists: a module whose instances differ from its list would serve a
    // schema other than the committed one.
    if (unlisted.length > 0 || missing.length > 0) {
      const name = (cls: unknown) => (cls as { name: string }).name;
      throw new Error(
        `resolver lists and instances differ: built but not listed ${unlisted.map(name).join(", ") || "none"}; ` +
          `listed but not built ${missing.map(name).join(", ") || "none"}`,
      );
    }
  }

  get<R>(cls: ResolverClass<R>): R {
    const instance = this.byClass.get(cls);
    if (!instance) throw new Error(`no resolver instance for ${cls.name}`);
    return instance as R;
  }
}

/** graphql-scalars' DateTime, saying which spec it follows (`@specifiedBy`), for generated clients. */
const DATE_TIME = new GraphQLScalarType({
  ...GraphQLDateTime.toConfig(),
  specifiedByURL: "https://scalars.graphql.org/andimarek/date-time",
});

/**
 * Builds the executable schema. Without instances it can still be printed (the resolvers are only
 * instantiated when something is resolved).
 */
export async function buildGatewaySchema(resolvers?: ResolverRegistry): Promise<GraphQLSchema> {
  declareArgumentsInOrder();
  const schema = await buildSchema({
    resolvers: [...RESOLVER_CLASSES],
    scalarsMap: [{ type: Date, scalar: DATE_TIME }],
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
      get: (cls: ResolverClass<object>) => {
        if (!resolvers) throw new Error(`no resolver instance for ${cls.name}`);
        return resolvers.get(cls);
      },
    },
  });
  // type-graphql has no option for the operation roots' descriptions.
  schema.getQueryType()!.description =
    "what the caller can read: their own deployments, jobs, configs and costs";
  schema.getMutationType()!.description =
    "what the caller can change: secrets, training configs, deployments, results";
  schema.getSubscriptionType()!.description = "live events over WebSocket (graphql-transport-ws) at /graphql";
  return inRootOrder(schema);
}

/**
 * type-graphql lists the types that implement an interface (`Node`) before everything else; the SDL and
 * introspection keep the order in which the operation roots reach each type. A type no root reaches stays
 * (listed first, as before).
 */
function inRootOrder(schema: GraphQLSchema): GraphQLSchema {
  const config = schema.toConfig();
  const reached = new GraphQLSchema({ ...config, types: [] }).getTypeMap();
  return new GraphQLSchema({ ...config, types: config.types.filter((type) => !(type.name in reached)) });
}

/**
 * Parameter decorators run last parameter first, and type-graphql lists a field's arguments in the order it
 * recorded them: `costs(to, from)` where the code (and the contract) says `costs(from, to)`. Its records, sorted
 * by parameter position (a stable sort: each method's own records end up in declaration order), make the SDL and
 * introspection list arguments as declared. Execution is unaffected: arguments are passed by position.
 */
function declareArgumentsInOrder(): void {
  const storage = getMetadataStorage() as unknown as { params: { index: number }[] };
  storage.params.sort((a, b) => a.index - b.index);
}

/** The SDL committed as `schema/schema.graphql`. */
export function printGatewaySchema(schema: GraphQLSchema): string {
  return `# Generated from the code by \`npm run schema:emit\`; do not edit. A test fails when it drifts.\n\n${printSchema(schema)}\n`;
}
