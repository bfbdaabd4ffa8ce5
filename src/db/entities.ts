import { ArtifactRecord } from "../artifacts/artifact.entity";
import { BudgetAlertRecord } from "../supervision/budget-alert.entity";
import { DeploymentEvent } from "../deployments/deployment-event.entity";
import { Deployment } from "../deployments/deployment.entity";
import { TrainingJob } from "../jobs/training-job.entity";
import { TrainingMetric } from "../metrics/training-metric.entity";
import { ProviderSecret } from "../secrets/provider-secret.entity";
import { TrainingConfig } from "../training-configs/training-config.entity";
import { User } from "../users/user.entity";

/** Every table's entity. Listed explicitly, not globbed, so the same list works from `src/` and `dist/`. */
export const ENTITIES = [
  User,
  ProviderSecret,
  TrainingConfig,
  TrainingJob,
  Deployment,
  TrainingMetric,
  BudgetAlertRecord,
  DeploymentEvent,
  ArtifactRecord,
];
