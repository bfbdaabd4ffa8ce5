import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { NodeSource } from "../relay/node.types";
import { trainingConfigNodes } from "./training-config.nodes";
import { TrainingConfigResolver } from "./training-config.resolver";
import { TrainingConfigService } from "./training-config.service";

/** The classes of this module's resolvers (the schema is printed from them). */
export const TRAINING_CONFIGS_RESOLVERS = [TrainingConfigResolver] as const;

export interface TrainingConfigsModule extends GatewayModule {
  readonly trainingConfigs: TrainingConfigService;
  /** The caller's configs as `node(id)`s. */
  readonly nodes: NodeSource;
}

/** Saved training configurations. */
export function createTrainingConfigsModule(deps: {
  db: DataSource;
  /** What pods can load when they are the simulator's local processes; null for pods that load from the Hub. */
  localModels: readonly string[] | null;
}): TrainingConfigsModule {
  const trainingConfigs = new TrainingConfigService(deps.db, deps.localModels);
  return {
    trainingConfigs,
    resolvers: [new TrainingConfigResolver(trainingConfigs)],
    nodes: trainingConfigNodes(deps.db),
  };
}
