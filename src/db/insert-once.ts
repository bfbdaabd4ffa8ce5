import type { DataSource, EntityTarget, ObjectLiteral } from "typeorm";
import type { QueryDeepPartialEntity } from "typeorm/query-builder/QueryPartialEntity";

/**
 * Inserts a row unless one with its primary key exists (`ON CONFLICT DO NOTHING`): what makes an alert fire once,
 * whichever replica or restart gets there first. The row's `created_at` when this call inserted it, else null.
 */
export async function insertOnce<T extends ObjectLiteral>(
  db: DataSource,
  entity: EntityTarget<T>,
  values: QueryDeepPartialEntity<T>,
): Promise<Date | null> {
  const inserted = await db
    .createQueryBuilder()
    .insert()
    .into(entity)
    .values(values)
    .orIgnore()
    .returning(["created_at"])
    .execute();
  const rows = inserted.raw as { created_at: Date }[];
  return rows.length === 0 ? null : new Date(rows[0].created_at);
}
