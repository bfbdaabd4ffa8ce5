import "reflect-metadata";
import path from "node:path";
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { DataSource, type DataSourceOptions } from "typeorm";
import { MIGRATIONS } from "../../migrations";
import { SnakeNamingStrategy } from "./naming-strategy";
import { createPgliteDriver, pgliteParsers } from "./pglite-pool";
import { pgliteSeed } from "./pglite-seed";

/** The entity classes TypeORM maps, as a DataSource takes them. */
export type EntityList = NonNullable<DataSourceOptions["entities"]>;

export interface DatabaseOptions {
  /** Every table's entity. The composition owns the list: this folder knows no domain. */
  entities: EntityList;
  /** `postgres://…`: PostgreSQL through node-postgres. Unset: embedded PGlite. */
  databaseUrl?: string;
  /** Embedded mode: where PGlite keeps its files. Unset (and no `pglite`): in memory. */
  dataDir?: string;
  /** Embedded mode: an already open PGlite instance to use (tests boot one from a migrated snapshot). */
  pglite?: PGlite;
  /** Connection pool size for PostgreSQL. */
  poolSize?: number;
  /** Run pending migrations after connecting (the server does; the migration CLI does it itself). */
  migrate?: boolean;
}

export interface Database {
  readonly dataSource: DataSource;
  readonly kind: "postgres" | "pglite";
  close(): Promise<void>;
}

const common = {
  type: "postgres",
  migrations: MIGRATIONS,
  migrationsTableName: "typeorm_migrations",
  namingStrategy: new SnakeNamingStrategy(),
  synchronize: false,
  migrationsRun: false,
  // gen_random_uuid() is built into PostgreSQL 13+; PGlite has no extensions to install.
  uuidExtension: "pgcrypto",
  installExtensions: false,
  logging: false,
} as const;

/** The TypeORM options for either mode. */
export function dataSourceOptions(options: DatabaseOptions): DataSourceOptions {
  if (options.databaseUrl) {
    return {
      ...common,
      entities: options.entities,
      url: options.databaseUrl,
      connectTimeoutMS: 5_000,
      extra: { max: options.poolSize ?? 20, idleTimeoutMillis: 30_000 },
    };
  }
  return {
    ...common,
    entities: options.entities,
    driver: createPgliteDriver(options.pglite ?? (() => openPglite(options.dataDir))),
  };
}

/** Opens the database of either mode and, when asked, brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const dataSource = new DataSource(dataSourceOptions(options));
  try {
    await dataSource.initialize();
    if (options.migrate) {
      await dataSource.runMigrations({ transaction: "each" });
    }
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    throw error;
  }
  return {
    dataSource,
    kind: options.databaseUrl ? "postgres" : "pglite",
    close: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}

/** Opens (creating on first use) the embedded database under `dataDir`, or in memory without one. */
export async function openPglite(dataDir?: string, loadDataDir?: Blob): Promise<PGlite> {
  const pgdata = dataDir ? path.join(dataDir, "pgdata") : undefined;
  if (pgdata) mkdirSync(pgdata, { recursive: true });
  return PGlite.create({
    dataDir: pgdata,
    loadDataDir: loadDataDir ?? (pgdata ? pgliteSeed(pgdata) : undefined),
    parsers: pgliteParsers,
  });
}
