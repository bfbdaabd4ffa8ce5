import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { DeploymentQueryService } from "../deployments/deployment-query.service";
import type { DeploymentService } from "../deployments/deployment.service";
import type { EventBus } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import type { RunpodClient } from "../runpod/runpod-client";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingAlerts } from "../training-alerts/training-alerts";
import { BudgetAlertStream } from "./budget-alert-stream";
import { BudgetAlertStreamResolver } from "./budget-alert-stream.resolver";
import { BudgetAlerts } from "./budget-alerts";
import { PodSupervisor, type SupervisorOptions } from "./pod-supervisor";

/** The classes of this module's resolvers (the schema is printed from them). */
export const SUPERVISION_RESOLVERS = [BudgetAlertStreamResolver] as const;

export interface SupervisionDeps {
  db: DataSource;
  runpod: RunpodClient;
  secrets: ProviderSecretService;
  deployments: DeploymentService;
  deploymentQueries: DeploymentQueryService;
  /** The training-health judge, handed the stall check of each pass. */
  health?: TrainingAlerts;
  /** The jobs among those given whose result the gateway stores, complete and verified. */
  storedResults?: (jobIds: readonly string[]) => Promise<ReadonlySet<string>>;
  bus: EventBus;
  streams: LiveStreams;
  logger: Logger;
  options?: SupervisorOptions;
}

export interface SupervisionModule extends GatewayModule {
  readonly supervisor: PodSupervisor;
  readonly alerts: BudgetAlerts;
}

/**
 * The pod supervisor as one leader-only background task, and the budget alerts. However a run ends for its
 * budget (the supervisor, the trainer at the stop flag, RunPod's terminateAfter), its owner gets the STOPPED
 * alert: the alerts listen to every finished deployment.
 */
export function createSupervisionModule(deps: SupervisionDeps): SupervisionModule {
  const alerts = new BudgetAlerts(
    deps.db,
    deps.deployments,
    deps.bus,
    deps.logger.child({ component: "alerts" }),
  );
  const supervisor = new PodSupervisor(
    {
      db: deps.db,
      runpod: deps.runpod,
      secrets: deps.secrets,
      deployments: deps.deployments,
      alerts,
      health: deps.health,
      storedResults: deps.storedResults,
      logger: deps.logger.child({ component: "supervisor" }),
    },
    deps.options,
  );
  deps.deployments.onFinished(async (deployment) => {
    await alerts.budgetStopped(deployment);
  });
  return {
    supervisor,
    alerts,
    resolvers: [
      new BudgetAlertStreamResolver(
        new BudgetAlertStream(deps.streams, (userId, id) => deps.deploymentQueries.get(userId, id)),
      ),
    ],
    background: [
      {
        name: "supervise-pods",
        intervalMs: deps.options?.intervalMs ?? 15_000,
        run: () => supervisor.tick(),
      },
    ],
  };
}
