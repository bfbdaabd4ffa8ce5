import { readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, getOperationAST, getVariableValues, parse, specifiedRules, validate } from "graphql";
import { estimateCost, queryCostError, queryLimitRules } from "./query-limits";

const schema = buildSchema(
  readFileSync(path.join(__dirname, "..", "..", "schema", "schema.graphql"), "utf8"),
);

function cost(document: string, variables: Record<string, unknown> = {}): number {
  const parsed = parse(document);
  expect(validate(schema, parsed, specifiedRules).map((error) => error.message)).toEqual([]);
  const operation = getOperationAST(parsed)!;
  // As the transports call it: with the variables coerced (a variable's own default applied).
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) throw coerced.errors[0];
  return estimateCost(schema, parsed, operation, coerced.coerced);
}

describe("estimateCost", () => {
  test.each<[string, string, Record<string, unknown>, number]>([
    ["a field costs 1", "{ me { id } }", {}, 2],
    [
      "a literal page size multiplies what is under it",
      "{ deployments(first: 3) { edges { node { id } } } }",
      {},
      1 + 3 * 3,
    ],
    [
      "a page size from a variable counts as its value",
      "query($n: Int) { deployments(first: $n) { edges { node { id } } } }",
      { n: 7 },
      1 + 7 * 3,
    ],
    [
      "a variable's own default when it is not sent",
      "query($n: Int = 4) { deployments(first: $n) { edges { node { id } } } }",
      {},
      1 + 4 * 3,
    ],
    [
      "the argument's schema default when it is omitted",
      "{ deployments { edges { node { id } } } }",
      {},
      1 + 20 * 3,
    ],
    [
      "the schema default for an explicit null, as the resolver reads it",
      "query($n: Int) { deployments(first: $n) { edges { node { id } } } }",
      { n: null },
      1 + 20 * 3,
    ],
    [
      "maxPoints over limit, which metrics then ignores",
      "query($id: ID!) { trainingJob(id: $id) { metrics(limit: 10, maxPoints: 500) { step } } }",
      { id: "j" },
      1 + 1 + 500,
    ],
    [
      "nested lists multiply",
      "{ deployments(first: 10) { edges { node { job { metrics(limit: 5) { step loss } } } } } }",
      {},
      1 + 10 * (1 + 1 + 1 + 1 + 5 * 2),
    ],
    [
      "a fragment costs its fields at each spread",
      "{ a: deployments(first: 2) { ...Page } b: deployments(first: 5) { ...Page } } fragment Page on DeploymentConnection { edges { node { id status } } }",
      {},
      1 + 2 * 4 + 1 + 5 * 4,
    ],
    [
      "introspection costs 1 a field, its nesting bounded by graphql-js",
      "{ __schema { types { fields { name } } } }",
      {},
      1,
    ],
  ])("%s", (_name, document, variables, expected) => {
    expect(cost(document, variables)).toBe(expected);
  });

  test("counts each fragment once, however often it is spread", () => {
    // Each level spreads the next twice: 2^40 spreads to walk, each counted (merged fields are not subtracted).
    const levels = Array.from(
      { length: 40 },
      (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    );
    const document = `{ ...F0 } ${levels.join(" ")} fragment F40 on Query { me { id } }`;
    const parsed = parse(document);
    expect(estimateCost(schema, parsed, getOperationAST(parsed)!, {})).toBe(2 * 2 ** 40);
  });
});

describe("queryCostError", () => {
  const document = parse("query($n: Int!) { deployments(first: $n) { edges { node { id } } } }");
  const operation = getOperationAST(document)!;

  test("refuses past the limit, naming the estimate and the limit", () => {
    const error = queryCostError(
      schema,
      document,
      operation,
      { n: 100 },
      {
        maxTokens: 5_000,
        maxDepth: 12,
        maxAliases: 30,
        maxDirectives: 50,
        maxCost: 300,
      },
    );
    expect(error?.message).toBe("the query's estimated cost is 301; at most 300 is allowed");
    expect(error?.extensions.code).toBe("QUERY_TOO_COMPLEX");
  });

  test("leaves variables that do not coerce to execution (BAD_USER_INPUT)", () => {
    expect(queryCostError(schema, document, operation, { n: "many" })).toBeUndefined();
  });
});

describe("queryLimitRules", () => {
  test("counts a fragment's aliases at each spread", () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: id`).join(" ");
    const document = parse(`{ x: me { ...F } y: me { ...F } } fragment F on User { ${aliases} }`);
    expect(validate(schema, document, queryLimitRules()).map((error) => error.message)).toEqual([
      "the query uses 34 aliases; at most 30 are allowed",
    ]);
  });
});
