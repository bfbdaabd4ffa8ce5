import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { EncryptionKey } from "../config/env";
import { DeploymentStatus } from "../deployments/deployment.enums";
import type { DeploymentService } from "../deployments/deployment.service";
import type { NodeSource } from "../relay/node.types";
import { SecretBox } from "../secrets/secret-box";
import { WebhookDeliveryWorker, type DeliveryOptions } from "./webhook-delivery.worker";
import { deploymentRun, enqueueWebhookEvent } from "./webhook-outbox";
import { DEFAULT_RETRY_SCHEDULE } from "./webhook-retry";
import { DEFAULT_SEND_LIMITS } from "./webhook-sender";
import { webhookNodes } from "./webhook.nodes";
import { WebhookResolver } from "./webhook.resolver";
import { WebhookService } from "./webhook.service";
import { WebhookEvent } from "./webhook.enums";

/** The classes of this module's resolvers (the schema is printed from them). */
export const WEBHOOKS_RESOLVERS = [WebhookResolver] as const;

/** Tuning the tests shorten (README "Webhooks" gives the defaults); not environment variables. */
export interface WebhookTuning {
  retry?: Partial<DeliveryOptions["retry"]>;
  disableAfterMs?: number;
  leaseMs?: number;
  /** How often the leading replica looks for due deliveries. */
  pollIntervalMs?: number;
}

export interface WebhooksModule extends GatewayModule {
  readonly webhooks: WebhookService;
  readonly nodes: NodeSource;
  readonly delivery: WebhookDeliveryWorker;
}

/** The event each deployment status sends; the statuses between (STARTING) send none. */
const STATUS_EVENTS: Partial<Record<DeploymentStatus, WebhookEvent>> = {
  [DeploymentStatus.RUNNING]: WebhookEvent.DEPLOYMENT_RUNNING,
  [DeploymentStatus.COMPLETED]: WebhookEvent.DEPLOYMENT_COMPLETED,
  [DeploymentStatus.FAILED]: WebhookEvent.DEPLOYMENT_FAILED,
  [DeploymentStatus.STOPPED]: WebhookEvent.DEPLOYMENT_STOPPED,
};

/** Webhooks: the resolver, the outbox fed by deployment changes, and the delivery worker (leader-only). */
export function createWebhooksModule(deps: {
  db: DataSource;
  logger: Logger;
  encryptionKeys: readonly EncryptionKey[];
  deployments: DeploymentService;
  production: boolean;
  allowPrivate: boolean;
  publicUrl: string;
  tuning?: WebhookTuning;
}): WebhooksModule {
  const { db, tuning = {} } = deps;
  const box = new SecretBox(deps.encryptionKeys);
  const leaseMs = tuning.leaseMs ?? 60_000;
  const delivery = new WebhookDeliveryWorker(db, box, deps.logger.child({ component: "webhooks" }), {
    retry: { ...DEFAULT_RETRY_SCHEDULE, ...tuning.retry },
    send: { ...DEFAULT_SEND_LIMITS, allowPrivate: deps.allowPrivate },
    disableAfterMs: tuning.disableAfterMs ?? 3 * 86_400_000,
    leaseMs,
    batchSize: 50,
    publicUrl: deps.publicUrl,
  });
  const webhooks = new WebhookService(db, box, delivery, {
    production: deps.production,
    allowPrivate: deps.allowPrivate,
    leaseMs,
  });
  // Deployment events join the transaction that creates the deployment or moves its status.
  deps.deployments.onWritten(async (tx, deployment, job, previous) => {
    const event = previous === null ? WebhookEvent.DEPLOYMENT_CREATED : STATUS_EVENTS[deployment.status];
    if (event)
      await enqueueWebhookEvent(tx, deployment.userId, event, async () => ({
        deployment: await deploymentRun(tx, deployment, job),
      }));
  });
  return {
    webhooks,
    nodes: webhookNodes(db),
    delivery,
    resolvers: [new WebhookResolver(webhooks)],
    background: [
      {
        name: "webhook-delivery",
        intervalMs: tuning.pollIntervalMs ?? 1_000,
        run: () => delivery.deliverDue(),
      },
    ],
  };
}
