import { ArtifactRecord } from "../artifacts/artifact.entity";
import { BudgetAlertRecord } from "../supervision/budget-alert.entity";
import { DeploymentEvent } from "../deployments/deployment-event.entity";
import { Deployment } from "../deployments/deployment.entity";
import { TrainingJob } from "../jobs/training-job.entity";
import { TrainingMetric } from "../metrics/training-metric.entity";
import { PersistedDocument } from "../persisted-queries/persisted-document.entity";
import { ProviderSecret } from "../secrets/provider-secret.entity";
import { TrainingAlertRecord } from "../training-alerts/training-alert.entity";
import { TrainingConfig } from "../training-configs/training-config.entity";
import { User } from "../users/user.entity";
import { WebhookDelivery } from "../webhooks/webhook-delivery.entity";
import { WebhookOutboxRow } from "../webhooks/webhook-outbox.entity";
import { Webhook } from "../webhooks/webhook.entity";

/**
 * Every table's entity, handed to the database when it opens (the server, the CLIs, the tests). Listed
 * explicitly, not globbed, so the same list works from `src/` and `dist/`; a module that adds a table adds its
 * entity here.
 */
export const ENTITIES = [
  User,
  ProviderSecret,
  TrainingConfig,
  TrainingJob,
  Deployment,
  TrainingMetric,
  BudgetAlertRecord,
  TrainingAlertRecord,
  DeploymentEvent,
  ArtifactRecord,
  PersistedDocument,
  Webhook,
  WebhookOutboxRow,
  WebhookDelivery,
];
