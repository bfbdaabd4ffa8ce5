import "reflect-metadata";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { GraphQLSchema } from "graphql";
import { ConfigError, loadConfig } from "../config/env";
import { openDatabase } from "../db/data-source";
import {
  DocumentCollectionError,
  moduleStrings,
  operationDocuments,
  sourceStrings,
} from "../persisted-queries/document-collection";
import {
  documentHash,
  PersistedDocumentRegistry,
  type DocumentToRegister,
} from "../persisted-queries/persisted-document.registry";
import { ENTITIES } from "../server/entities";
import { buildGatewaySchema } from "../server/schema";
import * as dashboardOperations from "../web/client/dashboard/operations";

/** Where the dashboard's documents are defined (imported above: their text is built from the metric field table). */
const DASHBOARD_OPERATIONS = "src/web/client/dashboard/operations.ts";
/** The client examples' documents are read from their source: running the examples would call a gateway. */
const CLIENT_EXAMPLES = "client-examples";

/**
 * `npm run persisted:register [-- <file or folder>...]`: registers, for PERSISTED_QUERIES=only, the documents the
 * dashboard and the client examples send (and those of any file or folder given), in the database the
 * configuration names (DATABASE_URL, else the embedded one in DATA_DIR, which the gateway must not hold open).
 * Prints each operation with its SHA-256. Registering again changes nothing. A document that does not validate
 * against the schema stops it, naming the file, before anything is written.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const root = repositoryRoot(__dirname);
  const schema = await buildGatewaySchema();
  const documents = [
    ...operationDocuments(DASHBOARD_OPERATIONS, moduleStrings(dashboardOperations), schema),
    ...sourceFiles([path.join(root, CLIENT_EXAMPLES), ...process.argv.slice(2)]).flatMap((file) =>
      fileDocuments(root, file, schema),
    ),
  ];
  const db = await openDatabase({
    entities: ENTITIES,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    migrate: true,
  });
  try {
    const added = new Set(await new PersistedDocumentRegistry(db.dataSource).register(documents));
    for (const line of describe(documents, added)) console.log(line);
    console.log(`${added.size} new, ${new Set(documents.map((d) => documentHash(d.document))).size} in all`);
  } finally {
    await db.close();
  }
}

function fileDocuments(root: string, file: string, schema: GraphQLSchema): DocumentToRegister[] {
  const source = path.relative(root, path.resolve(file));
  return operationDocuments(source, sourceStrings(file, readFileSync(file, "utf8")), schema);
}

/** The `.ts` and `.py` files of `paths` (a folder's, recursively). */
function sourceFiles(paths: readonly string[]): string[] {
  return paths.flatMap((entry) => {
    if (!existsSync(entry)) throw new DocumentCollectionError(`${entry}: no such file or folder`);
    if (!statSync(entry).isDirectory()) return [entry];
    return sourceFiles(
      readdirSync(entry)
        .filter((name) => /\.(ts|py)$/.test(name) || statSync(path.join(entry, name)).isDirectory())
        .sort()
        .map((name) => path.join(entry, name)),
    );
  });
}

/** One line per document: operation, hash, where it was found, and whether this run added it. */
function describe(documents: readonly DocumentToRegister[], added: ReadonlySet<string>): string[] {
  const width = Math.max(...documents.map((d) => (d.operationName ?? "").length), 0);
  return documents.map((doc) => {
    const hash = documentHash(doc.document);
    const state = added.has(hash) ? "new" : "registered";
    return `${(doc.operationName ?? "").padEnd(width)}  ${hash}  ${state.padEnd(10)}  ${doc.source}`;
  });
}

/** The folder holding package.json above `dir` (the CLI runs from `src/cli` or `dist/src/cli`). */
function repositoryRoot(dir: string): string {
  return existsSync(path.join(dir, "package.json")) ? dir : repositoryRoot(path.dirname(dir));
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError || error instanceof DocumentCollectionError ? error.message : error,
  );
  process.exit(1);
});
