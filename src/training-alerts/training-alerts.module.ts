import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { DeploymentQueryService } from "../deployments/deployment-query.service";
import type { DeploymentService } from "../deployments/deployment.service";
import type { EventBus } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import { TrainingAlertStream } from "./training-alert-stream";
import { TrainingAlertStreamResolver } from "./training-alert-stream.resolver";
import { TrainingAlerts } from "./training-alerts";

/** The classes of this module's resolvers (the schema is printed from them). */
export const TRAINING_ALERTS_RESOLVERS = [TrainingAlertStreamResolver] as const;

export interface TrainingAlertsDeps {
  db: DataSource;
  deployments: DeploymentService;
  deploymentQueries: DeploymentQueryService;
  bus: EventBus;
  streams: LiveStreams;
  logger: Logger;
}

export interface TrainingAlertsModule extends GatewayModule {
  /** The health judge: the metric routes and the pod supervisor hand it what they see. */
  readonly alerts: TrainingAlerts;
}

/** Training-health alerts and their `trainingAlerts` subscription. */
export function createTrainingAlertsModule(deps: TrainingAlertsDeps): TrainingAlertsModule {
  const alerts = new TrainingAlerts(
    deps.db,
    deps.deployments,
    deps.bus,
    deps.logger.child({ component: "training-alerts" }),
  );
  return {
    alerts,
    resolvers: [
      new TrainingAlertStreamResolver(
        new TrainingAlertStream(deps.streams, (userId, id) => deps.deploymentQueries.get(userId, id)),
      ),
    ],
  };
}
