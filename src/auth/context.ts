import type DataLoader from "dataloader";
import { createParameterDecorator, type AuthChecker } from "type-graphql";
import { unauthenticated } from "../errors/app-error";
import type { Deployment } from "../deployments/deployment.entity";
import type { TrainingJob } from "../jobs/training-job.entity";
import type { TrainingMetric } from "../metrics/training-metric.entity";
import type { SubscriptionService } from "../server/subscription.service";

/** Batched lookups for one request or one subscription event, so a page of 50 costs a few queries, not 150. */
export interface Loaders {
  jobById: DataLoader<string, TrainingJob | undefined>;
  deploymentByJobId: DataLoader<string, Deployment | undefined>;
  latestMetricByJobId: DataLoader<string, TrainingMetric | undefined>;
}

/** What every resolver sees of the request. */
export interface GatewayContext {
  requestId: string;
  /** Set when the request carried a valid token. */
  userId?: string;
  /** Why there is no user, when a token was sent but rejected. */
  authError?: string;
  loaders: Loaders;
  /** The live streams, for subscription resolvers (type-graphql's `subscribe` has no constructor injection). */
  subscriptions: SubscriptionService;
}

/** Every operation needs a caller; the error says what was wrong with the token, never what it was. */
export const authChecker: AuthChecker<GatewayContext> = ({ context }) => {
  if (!context.userId)
    throw unauthenticated(context.authError ?? "authentication required: send Authorization: Bearer <token>");
  return true;
};

/** The authenticated caller's user id (use under `@Authorized()`). */
export function CurrentUser() {
  return createParameterDecorator<GatewayContext>(({ context }) => {
    if (!context.userId) throw unauthenticated(context.authError);
    return context.userId;
  });
}
