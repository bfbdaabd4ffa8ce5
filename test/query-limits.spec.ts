import type { Client } from "graphql-ws";
import { MAX_PAGE_SIZE } from "../src/relay/page-arguments";
import * as dashboard from "../src/web/client/dashboard/operations";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { collect, wsClient } from "./support/ws";

const USER = "limits";

let t: TestGateway;
let deploymentId: string;
let ws: Client;
beforeAll(async () => {
  t = await startTestGateway();
  deploymentId = (await newDeployment(t.gateway.db.dataSource, USER)).deployment.id;
  ws = wsClient(t.url, await t.token(USER));
});
afterAll(async () => {
  await ws.dispose();
  await t.close();
});

/** What a client sees of an answer: its data, and each error's message and code. */
interface Outcome {
  data?: unknown;
  errors?: { message: string; code: unknown }[];
}

const TRANSPORTS: Record<string, (query: string, variables?: Record<string, unknown>) => Promise<Outcome>> = {
  HTTP: async (query, variables) => {
    const res = await t.gql(USER, query, variables);
    return {
      data: res.data ?? undefined,
      errors: res.errors?.map((error) => ({ message: error.message, code: error.extensions?.code })),
    };
  },
  WebSocket: async (query, variables = {}) => {
    const received = collect(ws, query, variables, (data) => data);
    await received.ended;
    // A refused operation ends with graphql-ws's `error` message: the list of errors.
    const errors = received.errors.flat() as { message: string; extensions?: { code?: unknown } }[];
    return {
      data: received.values[0],
      errors: errors.length
        ? errors.map((error) => ({ message: error.message, code: error.extensions?.code }))
        : undefined,
    };
  },
};

/** `deployment(id) { job { deployment { … { id } } } }`: a selection `depth` fields deep. */
function nested(depth: number): string {
  let inner = "id";
  for (let level = depth - 1; level > 1; level--)
    inner = `${level % 2 === 0 ? "job" : "deployment"} { ${inner} }`;
  return `query($id: ID!) { deployment(id: $id) { ${inner} } }`;
}

/** Each page of deployments with its jobs' first 1,000 points: 1 + pageSize × 2,004 (edges, node, job, metrics, 1,000 × (step, loss)). */
const PAGED = `query($n: Int!) { deployments(first: $n) { edges { node { job { metrics(limit: 1000) { step loss } } } } } }`;

/** The listed objects' first 1,000 points, for each id given. */
const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { ... on TrainingJob { metrics(limit: 1000) { step } } } }`;

/** Each limit: a document just past it, the error it gets, and one just under it, which runs. */
const LIMITS: {
  limit: string;
  over: [string, Record<string, unknown>?];
  message: string;
  under: [string, Record<string, unknown>?];
}[] = [
  {
    limit: "depth (12)",
    over: [nested(13), { id: "" }],
    message: "the query is nested 13 levels deep; at most 12 are allowed",
    under: [nested(12), { id: "" }],
  },
  {
    limit: "aliases (30)",
    over: [`{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(" ")} }`],
    message: "the query uses 31 aliases; at most 30 are allowed",
    under: [`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: me { id }`).join(" ")} }`],
  },
  {
    limit: "directives (50)",
    over: [`{ me { ${"id @include(if: true) ".repeat(51)}} }`],
    message: "the query uses 51 directives; at most 50 are allowed",
    under: [`{ me { ${"id @include(if: true) ".repeat(50)}} }`],
  },
  {
    limit: "tokens (5,000)",
    over: [`{ ${"__typename ".repeat(4_999)}}`],
    message: "the document has more than 5000 tokens, the most allowed (the parser stops there)",
    // 5,000 tokens: `{`, 1,666 × `aN : __typename`, `}` (aliases of __typename are not counted as aliases).
    under: [`{ ${Array.from({ length: 1_666 }, (_, i) => `a${i}: __typename`).join(" ")} }`],
  },
  {
    // A page size given as a variable counts as its value (it counted as 100 before, refusing both).
    limit: "cost (50,000), a page size from a variable",
    over: [PAGED, { n: 25 }],
    message: "the query's estimated cost is 50,101; at most 50,000 is allowed",
    under: [PAGED, { n: 24 }],
  },
  {
    // `metrics` without `limit` returns up to its default, 1,000 points: 1 + 50 × (4 + 1,000).
    limit: "cost (50,000), a page size from an argument's default",
    over: [`{ deployments(first: 50) { edges { node { job { metrics { step } } } } } }`],
    message: "the query's estimated cost is 50,201; at most 50,000 is allowed",
    under: [`{ deployments(first: 50) { edges { node { job { metrics(limit: 990) { step } } } } } }`],
  },
  {
    // Paged backward: `last` sizes the page (first's default of 20 does not apply beside it).
    limit: "cost (50,000), a backward page size",
    over: [PAGED.replace("first", "last"), { n: 25 }],
    message: "the query's estimated cost is 50,101; at most 50,000 is allowed",
    under: [PAGED.replace("first", "last"), { n: 24 }],
  },
  {
    // `nodes(ids)` answers as many objects as it is given ids: 1 + 50 × (1 + 1,000).
    limit: "cost (50,000), the ids given to nodes",
    over: [NODES, { ids: Array.from({ length: 50 }, (_, i) => `id-${i}`) }],
    message: "the query's estimated cost is 50,051; at most 50,000 is allowed",
    under: [NODES, { ids: Array.from({ length: 49 }, (_, i) => `id-${i}`) }],
  },
];

describe.each(Object.keys(TRANSPORTS))("query limits over %s", (transport) => {
  const send = (query: string, variables?: Record<string, unknown>) =>
    TRANSPORTS[transport](query, variables);

  it.each(LIMITS)("$limit: refused with QUERY_TOO_COMPLEX just past it, run just under it", async (row) => {
    const withId = (variables?: Record<string, unknown>) =>
      variables && "id" in variables ? { ...variables, id: deploymentId } : variables;
    expect(await send(row.over[0], withId(row.over[1]))).toEqual({
      errors: [{ message: row.message, code: "QUERY_TOO_COMPLEX" }],
    });
    const under = await send(row.under[0], withId(row.under[1]));
    expect(under.errors).toBeUndefined();
    expect(under.data).toBeDefined();
  });

  it("runs the dashboard's deployment list at the largest page the API serves", async () => {
    const res = await send(dashboard.DEPLOYMENTS, { first: MAX_PAGE_SIZE });
    expect(res.errors).toBeUndefined();
    expect(res.data).toMatchObject({ deployments: { edges: [{ node: { id: deploymentId } }] } });
  });
});

describe("query limits over HTTP", () => {
  it("answers a refusal with 400, from validation (depth) and from the cost estimate alike", async () => {
    const deep = await t.gql(USER, nested(13), { id: deploymentId });
    const costly = await t.gql(USER, PAGED, { n: 25 });
    expect([deep.status, costly.status]).toEqual([400, 400]);
  });

  it("estimates the cost of each operation of a batch with its own variables", async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await t.token(USER)}` },
      body: JSON.stringify([
        { query: PAGED, variables: { n: 24 } },
        { query: PAGED, variables: { n: 25 } },
      ]),
    });
    const [cheap, costly] = (await res.json()) as {
      data?: unknown;
      errors?: { extensions: { code: string } }[];
    }[];
    expect(cheap.errors).toBeUndefined();
    expect(costly.errors?.map((error) => error.extensions.code)).toEqual(["QUERY_TOO_COMPLEX"]);
  });
});
