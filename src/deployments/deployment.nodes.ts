import type { DataSource } from "typeorm";
import type { NodeSource } from "../relay/node.types";
import { ownedRowsById } from "../relay/owned-rows";
import { Deployment } from "./deployment.entity";
import { DeploymentEvent } from "./deployment-event.entity";

/** An event's id is a positive bigint; at most 18 digits, so it always fits the column. */
const EVENT_ID = /^[1-9][0-9]{0,17}$/;

/** The caller's deployments and their audit events, for `node(id)`. */
export function deploymentNodes(db: DataSource): NodeSource {
  return {
    async find(userId, ids) {
      const [deployments, events] = await Promise.all([
        ownedRowsById(db.getRepository(Deployment), userId, ids),
        ownedEvents(db, userId, ids),
      ]);
      return new Map<string, object>([...deployments, ...events]);
    },
  };
}

async function ownedEvents(db: DataSource, userId: string, ids: readonly string[]) {
  const eventIds = [...new Set(ids.filter((id) => EVENT_ID.test(id)))];
  if (eventIds.length === 0) return new Map<string, DeploymentEvent>();
  const events = await db
    .getRepository(DeploymentEvent)
    .createQueryBuilder("e")
    .innerJoin(Deployment, "d", "d.id = e.deployment_id")
    .where("d.user_id = :userId", { userId })
    .andWhere("e.id IN (:...eventIds)", { eventIds })
    .getMany();
  return new Map(events.map((event) => [event.id, event]));
}
