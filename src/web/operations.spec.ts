import { readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, getOperationAST, GraphQLEnumType, parse, specifiedRules, validate } from "graphql";
import { MAX_PAGE_SIZE } from "../relay/page-arguments";
import {
  DEFAULT_QUERY_LIMITS,
  estimateCost,
  queryLimitRules,
  queryParseOptions,
} from "../server/query-limits";
import * as operations from "./client/dashboard/operations";
import { DEFAULT_QUERY } from "./client/playground/defaults";

/** The web UI may only ask for what the committed SDL has, within the limits the gateway enforces. */
const schema = buildSchema(
  readFileSync(path.join(__dirname, "..", "..", "schema", "schema.graphql"), "utf8"),
);
const rules = [...specifiedRules, ...queryLimitRules()];

const documents = Object.entries(operations as Record<string, unknown>).filter(
  (entry): entry is [string, string] =>
    typeof entry[1] === "string" && /^\s*(query|mutation|subscription)\s/.test(entry[1]),
);

describe("the web UI's GraphQL documents", () => {
  test("are all found", () => {
    expect(documents.map(([name]) => name).sort()).toEqual([
      "BUDGET_ALERTS",
      "CREATE_WEBHOOK",
      "DELETE_WEBHOOK",
      "DEPLOYMENT",
      "DEPLOYMENTS",
      "DEPLOYMENT_UPDATED",
      "DEPLOY_TRAINING",
      "GPU_OFFERS",
      "JOB_ARTIFACT",
      "ME",
      "STOP_DEPLOYMENT",
      "TEST_WEBHOOK",
      "TRAINING_ALERTS",
      "TRAINING_CONFIGS",
      "TRAINING_METRICS",
      "WEBHOOKS",
      "WEBHOOK_DELIVERIES",
    ]);
  });

  test.each([...documents, ["the playground's default query", DEFAULT_QUERY]])(
    "%s is valid against schema/schema.graphql and the query limits",
    (_name, document) => {
      const parsed = parse(document, queryParseOptions());
      expect(validate(schema, parsed, rules).map((error) => error.message)).toEqual([]);
      // At the largest page the API serves, not only the page the dashboard asks for today.
      const cost = estimateCost(schema, parsed, getOperationAST(parsed)!, { first: MAX_PAGE_SIZE });
      expect(cost).toBeLessThanOrEqual(DEFAULT_QUERY_LIMITS.maxCost);
    },
  );

  test("the dashboard's GPU list is the schema's GpuType enum, in order", () => {
    const gpuType = schema.getType("GpuType");
    expect(gpuType).toBeInstanceOf(GraphQLEnumType);
    expect([...operations.GPU_TYPES]).toEqual(
      (gpuType as GraphQLEnumType).getValues().map((value) => value.name),
    );
  });
});
