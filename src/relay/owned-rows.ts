import { In, type FindOptionsWhere, type Repository } from "typeorm";
import { isUuid } from "../db/ids";

/**
 * The rows among `ids` that `userId` owns, by id, in one query: the node source of a table keyed by UUID with a
 * `userId` column. Ids that are not UUIDs cannot name a row and are not sent to the database.
 */
export async function ownedRowsById<T extends { id: string; userId: string }>(
  repository: Repository<T>,
  userId: string,
  ids: readonly string[],
): Promise<Map<string, T>> {
  const uuids = [...new Set(ids.filter(isUuid))];
  if (uuids.length === 0) return new Map();
  const rows = await repository.findBy({ id: In(uuids), userId } as FindOptionsWhere<T>);
  return new Map(rows.map((row) => [row.id, row]));
}
