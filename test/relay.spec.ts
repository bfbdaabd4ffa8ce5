import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DeploymentEvent } from "../src/deployments/deployment-event.entity";
import { newDeployment, newTrainingConfig } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

// Relay's object identification (`node`, `nodes`) and the relay-compiler's verdict on the committed SDL.

const ROOT = path.resolve(__dirname, "..");
let t: TestGateway;

/** One object of every type that implements Node, owned by `user`. */
async function objectsOf(user: string) {
  const db = t.gateway.db.dataSource;
  const config = await newTrainingConfig(db, user, { name: `${user}'s config` });
  const { deployment, job } = await newDeployment(db, user, {}, config);
  await db.query(`INSERT INTO training_metrics (job_id, step, loss) VALUES ($1, 10, 2.5), ($1, 20, 1.25)`, [
    job.id,
  ]);
  const event = await db
    .getRepository(DeploymentEvent)
    .save({ deploymentId: deployment.id, kind: "status.changed", detail: { to: "RUNNING" } });
  // A webhook, and one logged attempt (its test delivery, to a port where nothing listens).
  const created = await t.gql<{ createWebhook: { webhook: { id: string } } }>(
    user,
    `mutation { createWebhook(input: { url: "http://127.0.0.1:9/hook", events: [DEPLOYMENT_CREATED] }) { webhook { id } } }`,
  );
  const webhook = created.data!.createWebhook.webhook.id;
  const tested = await t.gql<{ testWebhook: { id: string } }>(
    user,
    `mutation($id: ID!) { testWebhook(id: $id) { id } }`,
    { id: webhook },
  );
  return {
    User: user,
    TrainingConfig: config.id,
    Deployment: deployment.id,
    TrainingJob: job.id,
    TrainingMetric: `${job.id}:20`,
    DeploymentEvent: String(event.id),
    Webhook: webhook,
    WebhookDelivery: tested.data!.testWebhook.id,
  };
}
let mine: Awaited<ReturnType<typeof objectsOf>>;
let theirs: Awaited<ReturnType<typeof objectsOf>>;

const NODE = `query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on User { createdAt }
    ... on TrainingConfig { name }
    ... on Deployment { status job { id } }
    ... on TrainingJob { jobStatus: status deployment { id } }
    ... on TrainingMetric { step loss }
    ... on DeploymentEvent { kind }
    ... on Webhook { url }
    ... on WebhookDelivery { attempt }
  }
}`;
const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`;

beforeAll(async () => {
  // Webhooks to a loopback address: the test deliveries need no network.
  t = await startTestGateway({ env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
  mine = await objectsOf("relay-owner");
  theirs = await objectsOf("relay-stranger");
});
afterAll(() => t.close());

describe("node(id)", () => {
  it("refetches every type that implements Node by its id, for its owner", async () => {
    for (const [type, id] of Object.entries(mine)) {
      const res = await t.gql<{ node: Record<string, unknown> }>("relay-owner", NODE, { id });
      expect(res.errors).toBeUndefined();
      expect(res.data!.node).toMatchObject({ __typename: type, id });
    }
    const metric = await t.gql<{ node: { step: number; loss: number } }>("relay-owner", NODE, {
      id: mine.TrainingMetric,
    });
    expect(metric.data!.node).toMatchObject({ step: 20, loss: 1.25 });
    const deployment = await t.gql<{ node: { job: { id: string } } }>("relay-owner", NODE, {
      id: mine.Deployment,
    });
    expect(deployment.data!.node.job.id).toBe(mine.TrainingJob);
  });

  it("answers another user's ids exactly as unknown ones: null, no error", async () => {
    const unknown = await t.gql("relay-owner", NODE, { id: "7d1f3c1e-0000-4000-8000-000000000000" });
    expect(unknown).toEqual({ status: 200, data: { node: null } });
    for (const id of Object.values(theirs)) {
      expect(await t.gql("relay-owner", NODE, { id })).toEqual(unknown);
    }
  });

  it.each([
    ["an empty id", ""],
    ["a word", "deployment"],
    ["a UUID with a trailing character", "7d1f3c1e-0000-4000-8000-000000000000x"],
    ["a metric id with a step past the integer column", "7d1f3c1e-0000-4000-8000-000000000000:99999999999"],
    ["a metric id with a negative step", "7d1f3c1e-0000-4000-8000-000000000000:-1"],
    ["an event number past bigint", "99999999999999999999"],
    ["SQL", "1 OR 1=1"],
  ])("answers %s with null, not an error", async (_name, id) => {
    expect(await t.gql("relay-owner", NODE, { id })).toEqual({ status: 200, data: { node: null } });
  });
});

describe("nodes(ids)", () => {
  it("answers in the order asked, null for unknown, malformed and foreign ids", async () => {
    const ids = [mine.Deployment, "nope", theirs.Deployment, mine.TrainingMetric, mine.User, theirs.User];
    const res = await t.gql<{ nodes: ({ __typename: string; id: string } | null)[] }>("relay-owner", NODES, {
      ids,
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.nodes).toEqual([
      { __typename: "Deployment", id: mine.Deployment },
      null,
      null,
      { __typename: "TrainingMetric", id: mine.TrainingMetric },
      { __typename: "User", id: mine.User },
      null,
    ]);
  });

  it("looks up 100 ids of every type with a few statements, not one per id", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => Object.values(i < 50 ? mine : theirs)[i % 8]);
    await t.gql("relay-owner", "{ me { id } }"); // the caller's row exists before counting
    const logger = t.gateway.db.dataSource.logger;
    const logQuery = logger.logQuery.bind(logger);
    const statements: string[] = [];
    logger.logQuery = (query, ...rest) => {
      statements.push(query);
      logQuery(query, ...rest);
    };
    try {
      const res = await t.gql<{ nodes: unknown[] }>("relay-owner", NODES, { ids });
      expect(res.errors).toBeUndefined();
      expect(res.data!.nodes.filter(Boolean)).toHaveLength(50);
    } finally {
      logger.logQuery = logQuery;
    }
    // One per type that can hold an id (the user's row, configs, deployments, events, jobs, points, webhooks,
    // their attempts).
    expect(statements.length).toBeLessThanOrEqual(8);
  });

  it("refuses more than 100 ids with BAD_USER_INPUT naming ids", async () => {
    const res = await t.gql("relay-owner", NODES, {
      ids: Array.from({ length: 101 }, () => mine.Deployment),
    });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "ids" });
  });

  it("needs a caller", async () => {
    const res = await t.gql(null, NODES, { ids: [mine.Deployment] });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "UNAUTHENTICATED" });
  });
});

describe("relay-compiler 21 on schema/schema.graphql", () => {
  const FRAGMENTS = `
import { graphql } from "react-relay";

export const deploymentList = graphql\`
  fragment DeploymentList_query on Query
  @argumentDefinitions(
    first: { type: "Int", defaultValue: 5 }
    after: { type: "String" }
    last: { type: "Int" }
    before: { type: "String" }
  )
  @refetchable(queryName: "DeploymentListPaginationQuery") {
    deployments(first: $first, after: $after, last: $last, before: $before)
      @connection(key: "DeploymentList_deployments") {
      edges { node { id status } }
    }
  }
\`;

export const deploymentCard = graphql\`
  fragment DeploymentCard_deployment on Deployment @refetchable(queryName: "DeploymentCardRefetchQuery") {
    id status actualCostUsd job { id status }
  }
\`;
`;
  let dir: string;
  let run: ReturnType<typeof spawnSync>;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "traingate-relay-"));
    mkdirSync(path.join(dir, "src", "__generated__"), { recursive: true });
    writeFileSync(path.join(dir, "src", "deployments.ts"), FRAGMENTS);
    writeFileSync(
      path.join(dir, "relay.config.json"),
      JSON.stringify({
        src: "./src",
        schema: path.join(ROOT, "schema", "schema.graphql"),
        language: "typescript",
        artifactDirectory: "./src/__generated__",
      }),
    );
    run = spawnSync(path.join(ROOT, "node_modules", ".bin", "relay-compiler"), [], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The operation text of a generated query artifact. */
  const operationText = (name: string): string => {
    const artifact = readFileSync(path.join(dir, "src", "__generated__", `${name}.graphql.ts`), "utf8");
    return JSON.parse(/"text": ("(?:[^"\\]|\\.)*")/.exec(artifact)![1]) as string;
  };

  it("accepts @connection on deployments and @refetchable on Deployment, and writes the artifacts", () => {
    // The compiler's own report, when it refuses the schema or a document.
    expect({ status: run.status, report: run.status === 0 ? "" : String(run.stderr) }).toEqual({
      status: 0,
      report: "",
    });
    expect(readdirSync(path.join(dir, "src", "__generated__")).sort()).toEqual([
      "DeploymentCardRefetchQuery.graphql.ts",
      "DeploymentCard_deployment.graphql.ts",
      "DeploymentListPaginationQuery.graphql.ts",
      "DeploymentList_query.graphql.ts",
    ]);
  });

  it("generates queries the gateway answers: the refetch through node(id), the pagination both ways", async () => {
    const refetch = await t.gql<{ node: { id: string; job: { id: string } } }>(
      "relay-owner",
      operationText("DeploymentCardRefetchQuery"),
      { id: mine.Deployment },
    );
    expect(refetch.errors).toBeUndefined();
    expect(refetch.data!.node).toMatchObject({ id: mine.Deployment, job: { id: mine.TrainingJob } });

    type Page = {
      deployments: {
        edges: { node: { id: string } }[];
        pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string };
      };
    };
    const paginate = operationText("DeploymentListPaginationQuery");
    const forward = await t.gql<Page>("relay-owner", paginate, { first: 1 });
    expect(forward.errors).toBeUndefined();
    expect(forward.data!.deployments.edges.map((e) => e.node.id)).toEqual([mine.Deployment]);
    const backward = await t.gql<Page>("relay-owner", paginate, {
      first: null,
      last: 1,
      before: forward.data!.deployments.pageInfo.endCursor,
    });
    expect(backward.errors).toBeUndefined();
    expect(backward.data!.deployments).toMatchObject({
      edges: [],
      pageInfo: { hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });
});
