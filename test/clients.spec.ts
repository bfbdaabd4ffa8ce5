import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ApolloClient, ApolloLink, gql as apolloGql, InMemoryCache } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { Client as UrqlClient, fetchExchange, gql as urqlGql, subscriptionExchange } from "@urql/core";
import { cacheExchange, type KeyingConfig } from "@urql/exchange-graphcache";
import { buildSchema, isObjectType, OperationTypeNode, print } from "graphql";
import { auditServer } from "graphql-http";
import { GraphQLClient } from "graphql-request";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { startDemoGateway } from "./support/demo-gateway";
import type { TestGateway } from "./support/gateway";

/**
 * Third-party GraphQL clients, set up as their documentation shows, against a real gateway with the built-in
 * RunPod simulator (its simulated trainer posts real metrics): each runs the README's first query, a deploy and
 * the deployment's loss curve as a subscription. Then graphql-http's audit of the GraphQL-over-HTTP spec.
 */

const ROOT = path.resolve(__dirname, "..");
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");
const USER = "clients";
const SIM_KEY = "sim_clients_spec_0001";

/** The README's first query, exactly as its quick start sends it with curl. */
const FIRST_QUERY = (() => {
  const match = /"query":"(\{[^"]*\})"/.exec(README);
  if (!match) throw new Error("README.md has no first query");
  return match[1];
})();

/**
 * The value types the README documents, as the graphcache `keys` it shows: types without an identity, stored
 * inside the object that holds them.
 */
const VALUE_TYPES = (() => {
  const block = /```ts\n(cacheExchange\(\{[\s\S]*?)```/.exec(README)?.[1];
  if (!block) throw new Error("README.md shows no graphcache keys");
  return [...block.matchAll(/(\w+): \(\) => null/g)].map((match) => match[1]);
})();

const DEPLOY = `
  mutation Deploy($input: DeployTrainingInput!) {
    deployTraining(input: $input) {
      id
      status
      gpuType
      budgetLimitUsd
      job {
        id
      }
      trainingConfig {
        id
        name
        hyperparameters {
          epochs
          loraR
        }
      }
    }
  }
`;
interface Deployed {
  deployTraining: { id: string; gpuType: string; job: { id: string }; trainingConfig: { name: string } };
}

/** The whole loss curve: the points already stored, then live ones. */
const METRICS = `
  subscription Metrics($jobId: ID!) {
    trainingMetrics(jobId: $jobId, afterStep: -1) {
      id
      step
      loss
    }
  }
`;
interface MetricPoint {
  id: string;
  step: number;
  loss: number | null;
}

/** The simulated trainer's run: one epoch of 40 steps, a point every 5. */
const STEPS = [5, 10, 15, 20, 25, 30, 35, 40];

let t: TestGateway;
let token: string;
let configId: string;

/** An HTTP request a client made, as the gateway received it. */
interface Sent {
  method: string;
  url: URL;
  body: unknown;
}

/** A fetch that records what a client sends, for assertions on how it speaks HTTP. */
function recordingFetch(sent: Sent[]): typeof fetch {
  return (input, init) => {
    const request = new Request(input, init);
    sent.push({
      method: request.method,
      url: new URL(request.url),
      body: typeof init?.body === "string" ? (JSON.parse(init.body) as unknown) : undefined,
    });
    return fetch(request);
  };
}

/** graphql-ws over the `ws` package, with the token in `connection_init`, as the README says. */
function webSocketClient(): WsClient {
  return createWsClient({
    url: `${t.url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
  });
}

/**
 * Collects a subscription's points until the last step of the run arrived; rejects on an error or after
 * `timeoutMs`. `subscribe` starts the client's own subscription and answers how to end it.
 */
function lossCurve(
  subscribe: (sink: { next(point: MetricPoint): void; error(error: unknown): void }) => () => void,
  // The simulated run posts a point every few hundred ms; a busy 2-core machine stretches that a lot.
  timeoutMs = 45_000,
): Promise<MetricPoint[]> {
  return new Promise((resolve, reject) => {
    const points: MetricPoint[] = [];
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the loss curve stopped at ${JSON.stringify(points.map((p) => p.step))}`));
    }, timeoutMs);
    const stop = subscribe({
      next: (point) => {
        points.push(point);
        if (point.step < STEPS[STEPS.length - 1]) return;
        clearTimeout(timer);
        stop();
        resolve(points);
      },
      error: (error) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
      },
    });
  });
}

/**
 * With Redis, hashes outlive a gateway by 15 minutes (keys `traingate:apq:<sha256>`): a rerun within that time must
 * still start from the miss the persisted-query test expects.
 */
async function forgetPersistedHashes(documents: string[]): Promise<void> {
  if (!process.env.REDIS_URL) return;
  const redis = new Redis(process.env.REDIS_URL);
  try {
    const hashes = documents.map((document) => createHash("sha256").update(document).digest("hex"));
    await redis.del(...hashes.map((hash) => `traingate:apq:${hash}`));
  } finally {
    redis.disconnect();
  }
}

/** What every client's run shows: the whole curve in rising steps, each point keyed `<jobId>:<step>`. */
function expectWholeCurve(points: MetricPoint[], jobId: string): void {
  expect(points.map((point) => point.step)).toEqual(STEPS);
  expect(points.map((point) => point.id)).toEqual(STEPS.map((step) => `${jobId}:${step}`));
  for (const point of points) expect(typeof point.loss).toBe("number");
}

const deployInput = () => ({ input: { trainingConfigId: configId, budgetLimitUsd: 1 } });

beforeAll(async () => {
  t = await startDemoGateway(USER, SIM_KEY);
  token = await t.token(USER);
  const config = await t.gql<{ createTrainingConfig: { id: string } }>(
    USER,
    `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
    {
      input: {
        name: "clients",
        modelName: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        datasetUrl: "https://example.com/alpaca.jsonl",
        hyperparameters: { epochs: 1, loggingSteps: 5 },
      },
    },
  );
  if (!config.data) throw new Error(JSON.stringify(config.errors));
  configId = config.data.createTrainingConfig.id;
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe("urql 6 with its defaults and graphcache", () => {
  test("the README's value types are exactly the schema's object types without an id", () => {
    const schema = buildSchema(readFileSync(path.join(ROOT, "schema", "schema.graphql"), "utf8"));
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
    const withoutId = Object.values(schema.getTypeMap())
      .filter((type) => isObjectType(type) && !roots.includes(type) && !("id" in type.getFields()))
      .map((type) => type.name)
      // graphcache knows these already (its KEYLESS_TYPE_RE).
      .filter((name) => !/^__|PageInfo|(Connection|Edge)$/.test(name));
    expect([...VALUE_TYPES].sort()).toEqual(withoutId.sort());
  });

  test("queries over GET, deploys, follows the loss curve, and graphcache warns of no type beyond the documented value types", async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(console, "warn").mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    const sent: Sent[] = [];
    const ws = webSocketClient();
    const keys: KeyingConfig = Object.fromEntries(VALUE_TYPES.map((name) => [name, () => null]));
    // As urql's documentation sets it up: the defaults (queries over GET within the URL limit), graphcache, and
    // subscriptions forwarded to graphql-ws.
    const client = new UrqlClient({
      url: `${t.url}/graphql`,
      fetch: recordingFetch(sent),
      fetchOptions: { headers: { authorization: `Bearer ${token}` } },
      exchanges: [
        cacheExchange({ keys }),
        fetchExchange,
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({
              unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink),
            }),
          }),
        }),
      ],
    });
    try {
      const me = await client.query(urqlGql(FIRST_QUERY), {}).toPromise();
      expect(me.error).toBeUndefined();
      expect(me.data).toMatchObject({ me: { id: USER } });

      const deployed = await client.mutation<Deployed>(urqlGql(DEPLOY), deployInput()).toPromise();
      expect(deployed.error).toBeUndefined();
      const deployment = deployed.data!.deployTraining;
      expect(deployment).toMatchObject({ gpuType: "RTX_A4000", trainingConfig: { name: "clients" } });

      const points = await lossCurve((sink) => {
        const subscription = client
          .subscription<{ trainingMetrics: MetricPoint }>(urqlGql(METRICS), { jobId: deployment.job.id })
          .subscribe((result) => {
            if (result.error) sink.error(result.error);
            else if (result.data) sink.next(result.data.trainingMetrics);
          });
        return () => subscription.unsubscribe();
      });
      expectWholeCurve(points, deployment.job.id);

      // The finished run's cost report: value types all through, embedded in the answer, not keyed.
      const costs = await client
        .query<{ costs: { byGpuType: unknown[]; byDay: unknown[]; deployments: unknown[] } }>(
          urqlGql(`{
            costs {
              totalUsd
              byGpuType { gpuType costUsd }
              byDay { day costUsd }
              deployments { costUsd deployment { id } }
            }
          }`),
          {},
        )
        .toPromise();
      expect(costs.error).toBeUndefined();
      expect(costs.data?.costs.byGpuType).not.toHaveLength(0);
      expect(costs.data?.costs.byDay).not.toHaveLength(0);
      expect(costs.data?.costs.deployments).not.toHaveLength(0);

      // Queries went as GET (the mutation as POST); subscriptions never touched HTTP.
      expect(sent.map((request) => request.method)).toEqual(["GET", "POST", "GET"]);
      expect(sent[0].url.searchParams.get("query")).toMatch(/\bme\b/);
      expect(warnings).toEqual([]);

      // Without the keys, graphcache warns of exactly the value types these answers hold: the capture works.
      const bare = new UrqlClient({
        url: `${t.url}/graphql`,
        fetchOptions: { headers: { authorization: `Bearer ${token}` } },
        exchanges: [cacheExchange(), fetchExchange],
      });
      const again = await bare
        .query(
          urqlGql(`{
            costs { totalUsd byGpuType { gpuType } byDay { day } deployments { costUsd deployment { id } } }
            trainingConfig(id: "${configId}") { id hyperparameters { epochs } }
          }`),
          {},
        )
        .toPromise();
      expect(again.error).toBeUndefined();
      const warned = new Set(warnings.map((message) => /keys` config for `(\w+)`/.exec(message)?.[1]));
      expect([...warned].sort()).toEqual(
        ["CostReport", "DayCost", "DeploymentCost", "GpuTypeCost", "Hyperparameters"].sort(),
      );
      for (const name of warned) expect(VALUE_TYPES).toContain(name);
    } finally {
      warn.mockRestore();
      await ws.dispose();
    }
  }, 120_000);
});

describe("Apollo Client 4 with batching and automatic persisted queries", () => {
  test("batches queries into one request, sends only the hash the second time, deploys, and follows the loss curve", async () => {
    const sent: Sent[] = [];
    const ws = webSocketClient();
    const http = new PersistedQueryLink({
      sha256: (document) => createHash("sha256").update(document).digest("hex"),
    }).concat(
      new BatchHttpLink({
        uri: `${t.url}/graphql`,
        fetch: recordingFetch(sent),
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    const cache = new InMemoryCache();
    const client = new ApolloClient({
      cache,
      link: ApolloLink.split(
        (operation) => operation.operationType === OperationTypeNode.SUBSCRIPTION,
        new GraphQLWsLink(ws),
        http,
      ),
    });
    const queries = [
      apolloGql(FIRST_QUERY),
      apolloGql(`{ trainingConfigs { id name } }`),
      apolloGql(`{ deployments { totalCount } }`),
    ];
    const runAll = () =>
      Promise.all(queries.map((query) => client.query({ query, fetchPolicy: "network-only" })));
    // Hashed as the link sends them: after the cache has added `__typename`.
    await forgetPersistedHashes(queries.map((query) => print(cache.transformDocument(query))));
    try {
      const first = await runAll();
      expect(first.map((result) => result.error)).toEqual([undefined, undefined, undefined]);
      expect(first[0].data).toMatchObject({ me: { __typename: "User", id: USER } });
      // The three went as one batch: first by hash only (unknown to the gateway), then again with the documents.
      expect(sent.map((request) => (request.body as unknown[]).length)).toEqual([3, 3]);
      const withDocuments = sent[1].body as { query?: string }[];
      expect(withDocuments.every((operation) => typeof operation.query === "string")).toBe(true);

      sent.length = 0;
      const second = await runAll();
      expect(second.map((result) => result.data)).toEqual(first.map((result) => result.data));
      // The second time: one request, hashes only, no document.
      expect(sent).toHaveLength(1);
      const hashed = sent[0].body as {
        query?: string;
        extensions: { persistedQuery: { sha256Hash: string } };
      }[];
      expect(hashed).toHaveLength(3);
      for (const operation of hashed) {
        expect(operation.query).toBeUndefined();
        expect(operation.extensions.persistedQuery.sha256Hash).toMatch(/^[0-9a-f]{64}$/);
      }

      const deployed = await client.mutate<Deployed>({
        mutation: apolloGql(DEPLOY),
        variables: deployInput(),
      });
      expect(deployed.error).toBeUndefined();
      const deployment = deployed.data!.deployTraining;
      expect(deployment).toMatchObject({ gpuType: "RTX_A4000", trainingConfig: { name: "clients" } });

      const points = await lossCurve((sink) => {
        const subscription = client
          .subscribe<{ trainingMetrics: MetricPoint }>({
            query: apolloGql(METRICS),
            variables: { jobId: deployment.job.id },
          })
          .subscribe({
            next: (result) => {
              if (result.error) sink.error(result.error);
              else if (result.data) sink.next(result.data.trainingMetrics);
            },
            error: (error) => sink.error(error),
          });
        return () => subscription.unsubscribe();
      });
      expectWholeCurve(points, deployment.job.id);

      // The cache is normalised by id: the user, the deployment and each point are entities of their own.
      const entities = Object.keys(cache.extract());
      expect(entities).toEqual(
        expect.arrayContaining([
          `User:${USER}`,
          `Deployment:${deployment.id}`,
          `TrainingMetric:${deployment.job.id}:40`,
        ]),
      );
    } finally {
      client.stop();
      await ws.dispose();
    }
  }, 120_000);
});

describe("graphql-request 7 in GET mode", () => {
  test("queries over GET, deploys over POST, and follows the loss curve over graphql-ws", async () => {
    const sent: Sent[] = [];
    const client = new GraphQLClient(`${t.url}/graphql`, {
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
      fetch: recordingFetch(sent),
    });
    const me = await client.request<{ me: { id: string; createdAt: string } }>(FIRST_QUERY);
    expect(me.me.id).toBe(USER);
    expect(Date.parse(me.me.createdAt)).not.toBeNaN();

    // graphql-request sends a mutation as POST even in GET mode.
    const { deployTraining: deployment } = await client.request<Deployed>(DEPLOY, deployInput());
    expect(deployment).toMatchObject({ gpuType: "RTX_A4000", trainingConfig: { name: "clients" } });
    expect(sent.map((request) => request.method)).toEqual(["GET", "POST"]);

    const ws = webSocketClient();
    try {
      const points = await lossCurve((sink) =>
        ws.subscribe<{ trainingMetrics: MetricPoint }>(
          { query: METRICS, variables: { jobId: deployment.job.id } },
          {
            next: (result) => {
              if (result.errors) sink.error(result.errors);
              else if (result.data) sink.next(result.data.trainingMetrics);
            },
            error: (error) => sink.error(error),
            complete: () => undefined,
          },
        ),
      );
      expectWholeCurve(points, deployment.job.id);
    } finally {
      await ws.dispose();
    }
  }, 120_000);

  test("a mutation over GET is refused and runs nothing", async () => {
    const count = async () =>
      (await t.gql<{ deployments: { totalCount: number } }>(USER, `{ deployments { totalCount } }`)).data!
        .deployments.totalCount;
    const before = await count();
    const url = new URL(`${t.url}/graphql`);
    url.searchParams.set("query", DEPLOY);
    url.searchParams.set("variables", JSON.stringify(deployInput()));
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });
    const body = (await response.json()) as { errors?: { message: string }[] };
    expect(response.status).toBe(405);
    expect(body.errors?.[0]?.message).toMatch(/GET requests only support query operations/);
    expect(await count()).toBe(before);
  });
});

describe("graphql-http's audit of the GraphQL-over-HTTP spec", () => {
  test("every MUST and every SHOULD passes", async () => {
    // As a client would call it: with a user's token (a GET without one needs a CSRF preflight header).
    const authorized = (input: string | URL | Request, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    };
    const results = await auditServer({ url: `${t.url}/graphql`, fetchFn: authorized });
    const failed = await Promise.all(
      results.flatMap((result) =>
        result.status === "ok" || result.name.startsWith("MAY")
          ? []
          : [
              result.response
                .text()
                .then((body) => `${result.name}: ${result.reason} (${result.response.status} ${body})`),
            ],
      ),
    );
    expect(failed).toEqual([]);
    expect(results.filter((result) => !result.name.startsWith("MAY")).length).toBeGreaterThan(30);
  });
});
