import { DataSource } from "typeorm";
import { dataSourceOptions, type EntityList } from "./data-source";

/**
 * The SQL TypeORM would still run to make a freshly migrated embedded database match the entities: empty when
 * the migrations and the entities agree. Given `entities`, it checks them on a throwaway in-memory database;
 * given an open DataSource, on that one (already migrated by the caller).
 */
export async function migrationDrift(source: DataSource | { entities: EntityList }): Promise<string[]> {
  const owned = !(source instanceof DataSource);
  const ds = owned ? new DataSource(dataSourceOptions({ entities: source.entities })) : source;
  if (!ds.isInitialized) await ds.initialize();
  try {
    if (owned) await ds.runMigrations({ transaction: "each" });
    const log = await ds.driver.createSchemaBuilder().log();
    return log.upQueries.map((q) => q.query);
  } finally {
    if (owned) await ds.destroy();
  }
}
