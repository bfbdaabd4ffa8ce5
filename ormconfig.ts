import "reflect-metadata";
import { DataSource } from "typeorm";
import { loadConfig } from "./src/config/env";
import { dataSourceOptions } from "./src/db/data-source";
import { ENTITIES } from "./src/server/entities";

/**
 * The DataSource the TypeORM CLI uses (`npx typeorm migration:show -d dist/ormconfig.js`): the same
 * entities, migrations and database as the server, PostgreSQL with DATABASE_URL, else PGlite under DATA_DIR.
 */
const config = loadConfig();
export default new DataSource(
  dataSourceOptions({ entities: ENTITIES, databaseUrl: config.databaseUrl, dataDir: config.dataDir }),
);
