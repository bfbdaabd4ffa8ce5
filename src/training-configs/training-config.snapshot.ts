import type { Hyperparameters } from "./training-config.types";
import type { TrainingMethod } from "./training-config.enums";
import { TrainingConfig } from "./training-config.entity";

/** A training config as it was when a job was deployed, kept in the job row (JSON). */
export interface TrainingConfigSnapshot {
  id: string;
  name: string;
  modelName: string;
  datasetUrl: string;
  method: TrainingMethod;
  hyperparameters: Hyperparameters;
  createdAt: string;
  updatedAt: string;
}

export function snapshotOf(config: TrainingConfig): TrainingConfigSnapshot {
  return {
    id: config.id,
    name: config.name,
    modelName: config.modelName,
    datasetUrl: config.datasetUrl,
    method: config.method,
    hyperparameters: config.hyperparameters,
    createdAt: config.createdAt.toISOString(),
    updatedAt: config.updatedAt.toISOString(),
  };
}

/** The snapshot as a GraphQL `TrainingConfig` value. */
export function configFromSnapshot(snapshot: TrainingConfigSnapshot, userId: string): TrainingConfig {
  return Object.assign(new TrainingConfig(), {
    ...snapshot,
    userId,
    createdAt: new Date(snapshot.createdAt),
    updatedAt: new Date(snapshot.updatedAt),
  });
}
