import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from "typeorm";
import type { QueryDeepPartialEntity } from "typeorm/query-builder/QueryPartialEntity";

/**
 * Inserts a row unless one with its primary key exists (`ON CONFLICT DO NOTHING`): what makes an alert fire once,
 * whichever replica or restart gets there first. The row's `created_at` when this call inserted it, else null.
 * `withInserted` runs in the insert's transaction, only when the row is new: what must commit with it (the
 * alert's webhook deliveries) commits with it or not at all.
 */
export async function insertOnce<T extends ObjectLiteral>(
  db: DataSource,
  entity: EntityTarget<T>,
  values: QueryDeepPartialEntity<T>,
  withInserted?: (tx: EntityManager) => Promise<unknown>,
): Promise<Date | null> {
  const insert = async (manager: EntityManager): Promise<Date | null> => {
    const inserted = await manager
      .createQueryBuilder()
      .insert()
      .into(entity)
      .values(values)
      .orIgnore()
      .returning(["created_at"])
      .execute();
    const rows = inserted.raw as { created_at: Date }[];
    if (rows.length === 0) return null;
    await withInserted?.(manager);
    return new Date(rows[0].created_at);
  };
  return withInserted ? db.transaction(insert) : insert(db.manager);
}
