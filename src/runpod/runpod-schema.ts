import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, type GraphQLSchema } from "graphql";

const RELATIVE = path.join("schema", "runpod.graphql");

/**
 * Absolute path of schema/runpod.graphql. Found by walking up from this file, because the same code runs from
 * `src/runpod/` (tests) and from `dist/src/runpod/` (the built simulator in demo mode).
 */
export function runpodSchemaPath(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i += 1) {
    const candidate = path.join(dir, RELATIVE);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`${RELATIVE} not found above ${__dirname}`);
}

/** The SDL text of the RunPod subset TrainGate uses. */
export function loadRunpodSchemaSdl(): string {
  return readFileSync(runpodSchemaPath(), "utf8");
}

/** The RunPod subset as an executable-shape schema (resolvers come from a root value, see runpod-sim). */
export function buildRunpodSchema(): GraphQLSchema {
  return buildSchema(loadRunpodSchemaSdl());
}
