import type { DataSource } from "typeorm";
import type { NodeSource } from "../relay/node.types";
import { ownedRowsById } from "../relay/owned-rows";
import { TrainingConfig } from "./training-config.entity";

/** The caller's saved configs, for `node(id)`. */
export function trainingConfigNodes(db: DataSource): NodeSource {
  return { find: (userId, ids) => ownedRowsById(db.getRepository(TrainingConfig), userId, ids) };
}
