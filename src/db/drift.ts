import { DataSource } from "typeorm";
import { dataSourceOptions } from "./data-source";

/**
 * The SQL TypeORM would still run to make a freshly migrated embedded database match the entities: empty when
 * the migrations and the entities agree.
 */
export async function migrationDrift(dataSource?: DataSource): Promise<string[]> {
  const ds = dataSource ?? new DataSource(dataSourceOptions({}));
  const owned = !dataSource;
  if (!ds.isInitialized) await ds.initialize();
  try {
    if (owned) await ds.runMigrations({ transaction: "each" });
    const log = await ds.driver.createSchemaBuilder().log();
    return log.upQueries.map((q) => q.query);
  } finally {
    if (owned) await ds.destroy();
  }
}
