import { In, type DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import type { NodeSource } from "../relay/node.types";
import { ownedRowsById } from "../relay/owned-rows";
import { WebhookDelivery } from "./webhook-delivery.entity";
import { Webhook } from "./webhook.entity";

/** The caller's webhooks and their logged attempts, for `node(id)`. */
export function webhookNodes(db: DataSource): NodeSource {
  return {
    find: async (userId, ids) => {
      const uuids = [...new Set(ids.filter(isUuid))];
      if (uuids.length === 0) return new Map();
      const [webhooks, deliveries] = await Promise.all([
        ownedRowsById(db.getRepository(Webhook), userId, uuids),
        // An attempt is the caller's when its webhook is.
        db
          .getRepository(WebhookDelivery)
          .createQueryBuilder("d")
          .innerJoin(Webhook, "w", "w.id = d.webhook_id")
          .where({ id: In(uuids) })
          .andWhere("w.user_id = :userId", { userId })
          .getMany(),
      ]);
      return new Map<string, object>([...webhooks, ...deliveries.map((row) => [row.id, row] as const)]);
    },
  };
}
