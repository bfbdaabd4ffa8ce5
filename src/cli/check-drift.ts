import "reflect-metadata";
import { readFileSync } from "node:fs";
import path from "node:path";
import { migrationDrift } from "../db/drift";
import { ENTITIES } from "../server/entities";
import { buildGatewaySchema, printGatewaySchema } from "../server/schema";

/**
 * `npm run check`'s drift step: the committed SDL must be what the code emits, and the migrations must build
 * exactly the schema the entities describe (checked on a throwaway embedded database).
 */
async function main(): Promise<void> {
  const problems: string[] = [];
  const file = path.resolve(__dirname, "../../../schema/schema.graphql");
  const emitted = printGatewaySchema(await buildGatewaySchema());
  const committed = readFileSync(file, "utf8");
  if (emitted !== committed) {
    problems.push(
      `schema/schema.graphql differs from what the code emits: run \`npm run schema:emit\` and commit it`,
    );
  }
  const drift = await migrationDrift({ entities: ENTITIES });
  if (drift.length > 0) {
    problems.push(`the migrations do not match the entities; missing SQL:\n${drift.join(";\n")}`);
  }
  if (problems.length > 0) {
    console.error(problems.join("\n\n"));
    process.exit(1);
  }
  console.log("no schema drift, no migration drift");
}

void main();
