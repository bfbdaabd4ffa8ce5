import "reflect-metadata";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { buildGatewaySchema, printGatewaySchema } from "../server/schema";

/** Writes the SDL the code emits to `schema/schema.graphql`. */
async function main(): Promise<void> {
  const file = path.resolve(__dirname, "../../../schema/schema.graphql");
  writeFileSync(file, printGatewaySchema(await buildGatewaySchema()));
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

void main();
