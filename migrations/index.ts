import { Init1764355200000 } from "./1764355200000-Init";
import { PodLifecycleAndAccrual1764441600000 } from "./1764441600000-PodLifecycleAndAccrual";
import { Artifacts1764527400000 } from "./1764527400000-Artifacts";
import { CostRollup1764614400000 } from "./1764614400000-CostRollup";
import { Webhooks1764700800000 } from "./1764700800000-Webhooks";
import { TrainingHealthAlerts1764702000000 } from "./1764702000000-TrainingHealthAlerts";
import { PersistedDocuments1764703800000 } from "./1764703800000-PersistedDocuments";
import { QueuedDeployments1764705600000 } from "./1764705600000-QueuedDeployments";

/** Every migration, in order. Listed explicitly so the same list works from sources and from `dist/`. */
export const MIGRATIONS = [
  Init1764355200000,
  PodLifecycleAndAccrual1764441600000,
  Artifacts1764527400000,
  CostRollup1764614400000,
  Webhooks1764700800000,
  TrainingHealthAlerts1764702000000,
  PersistedDocuments1764703800000,
  QueuedDeployments1764705600000,
];
