import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { print, type DocumentNode } from "graphql";
import type { Client, SubscribePayload } from "graphql-ws";
import { CostsDocument, MetricsDocument } from "../client-examples/gql/graphql";
import { documentHash } from "../src/persisted-queries/persisted-document.registry";
import * as dashboard from "../src/web/client/dashboard/operations";
import { freshDatabase, usingPostgres, type TestDatabaseTarget } from "./support/database";
import { eventually } from "./support/eventually";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { requireRedisServer, startRedisServer, type RedisServer } from "./support/redis-server";
import { freePort } from "./support/simulated";
import { collect, wsClient } from "./support/ws";

requireRedisServer();

const ROOT = path.resolve(__dirname, "..");
const ME = "query Me { me { id } }";

interface Answer {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
}

/** A POST of `body` (one operation or a batch) to `t` as `user`. */
async function post(t: TestGateway, user: string, body: unknown): Promise<Answer> {
  const res = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await t.token(user)}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

const byHash = (document: string) => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(document) } },
});

/** The first answer to a subscribe message: its first result, or the errors it was refused with. */
function firstAnswer(client: Client, payload: SubscribePayload): Promise<unknown> {
  return new Promise((resolve) => {
    const dispose = client.subscribe(payload, {
      next: (result) => {
        dispose();
        resolve(result);
      },
      error: resolve,
      complete: () => undefined,
    });
  });
}

/** `npm run persisted:register` from the sources, as a child process with `env` (and `args`). */
function registerDocuments(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the command
  const child = spawn(
    process.execPath,
    ["-r", "./test/support/register-ts.js", "src/cli/register-documents.ts", ...args],
    { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("PERSISTED_QUERIES=auto across replicas", () => {
  let port: number;
  let redis: RedisServer | undefined;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedisServer(port);
    const env = { REDIS_URL: `redis://127.0.0.1:${port}` };
    a = await startTestGateway({ env });
    b = await startTestGateway({ env });
  });
  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await redis?.kill();
  });

  it("runs by hash alone on replica B a document that was sent in full to replica A", async () => {
    const query = "query AcrossReplicas { me { id } }";
    expect((await post(b, "apq-user", byHash(query))).body.errors?.[0].extensions?.code).toBe(
      "PERSISTED_QUERY_NOT_FOUND",
    );
    expect((await post(a, "apq-user", { query, ...byHash(query) })).body).toEqual({
      data: { me: { id: "apq-user" } },
    });
    // Apollo stores the document after answering: B sees it once the write has landed.
    await eventually(
      async () => (await post(b, "apq-user", byHash(query))).body.data !== undefined,
      "the hash on replica B",
    );
    expect((await post(b, "apq-user", byHash(query))).body).toEqual({ data: { me: { id: "apq-user" } } });
  });

  it("keeps running documents sent in full while Redis is down (a hash alone is a miss, logged once), and shares hashes again once it is back", async () => {
    await redis!.kill();
    redis = undefined;
    const query = "query DuringOutage { me { id } }";
    for (let i = 0; i < 3; i++) {
      expect((await post(a, "apq-user", { query, ...byHash(query) })).body).toEqual({
        data: { me: { id: "apq-user" } },
      });
      expect((await post(a, "apq-user", byHash(query))).body.errors?.[0].extensions?.code).toBe(
        "PERSISTED_QUERY_NOT_FOUND",
      );
    }
    const warnings = a.logs.lines.filter((line) => line.includes("persisted-query cache: redis unreachable"));
    expect(warnings).toHaveLength(1);

    redis = await startRedisServer(port);
    // Nothing announces that the gateways' Redis clients reconnected: the document is sent until B knows it.
    await eventually(
      async () => {
        await post(a, "apq-user", { query, ...byHash(query) });
        return (await post(b, "apq-user", byHash(query))).body.data !== undefined;
      },
      "the hash on replica B once Redis is back",
      30_000,
    );
  });
});

describe("PERSISTED_QUERIES=only", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "traingate-registry-"));
  let database: TestDatabaseTarget | undefined;
  let env: Record<string, string>;
  let t: TestGateway;
  const runs: { code: number | null; stdout: string; stderr: string }[] = [];

  beforeAll(async () => {
    database = usingPostgres() ? await freshDatabase() : undefined;
    env = { DATA_DIR: dataDir, ...(database?.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}) };
    const bad = path.join(mkdtempSync(path.join(os.tmpdir(), "traingate-bad-client-")), "bad_client.py");
    writeFileSync(bad, 'ME = """\nquery Me { me { nope } }\n"""\n');
    runs.push(
      await registerDocuments(env, [bad]),
      await registerDocuments(env),
      await registerDocuments(env),
    );
    t = await startTestGateway({
      database,
      useDataDir: !database,
      env: { ...env, PERSISTED_QUERIES: "only" },
    });
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it("the register command stops at a document that does not validate, naming its file, and writes nothing", () => {
    const [failed, first] = runs;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/bad_client\.py: ME does not validate against the schema: .*"nope"/);
    // Nothing from the failed run was registered: the next run adds every document.
    expect(first.code).toBe(0);
    expect(first.stdout).not.toMatch(/ registered /);
  });

  it("the register command prints each operation with its hash, and registering again adds nothing", () => {
    const [, first, again] = runs;
    const line = (name: string, document: string) =>
      new RegExp(`^${name} +${documentHash(document)}  new +src/web/client/dashboard/operations\\.ts$`, "m");
    expect(first.stdout).toMatch(line("Me", dashboard.ME));
    expect(first.stdout).toMatch(line("TrainingMetrics", dashboard.TRAINING_METRICS));
    expect(first.stdout).toMatch(/^Deploy +[0-9a-f]{64} {2}new +client-examples\/python_client\.py$/m);
    // The TypeScript examples' typed documents, hashed as they send them: graphql's print of codegen's tree.
    const generated = (name: string, document: DocumentNode) =>
      new RegExp(`^${name} +${documentHash(print(document))}  new +client-examples/gql/graphql\\.ts$`, "m");
    expect(first.stdout).toMatch(generated("Costs", CostsDocument));
    expect(first.stdout).toMatch(generated("Metrics", MetricsDocument));
    const total = /^(\d+) new, (\d+) in all$/m.exec(first.stdout);
    expect(total?.[1]).toBe(total?.[2]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^0 new, ${total?.[2]} in all$`, "m"));
    expect(again.stdout).not.toMatch(/ {2}new {2}/);
  });

  it("runs the dashboard's queries, sent in full or by their hash alone, over POST and GET", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "safe-user");
    const queries: [string, Record<string, unknown>][] = [
      [dashboard.ME, {}],
      [dashboard.DEPLOYMENTS, { first: 20 }],
      [dashboard.DEPLOYMENT, { id: rows.deployment.id }],
      [dashboard.TRAINING_CONFIGS, {}],
      [dashboard.JOB_ARTIFACT, { id: rows.job.id }],
    ];
    for (const [query, variables] of queries) {
      for (const body of [
        { query, variables },
        { ...byHash(query), variables },
      ]) {
        const answer = await post(t, "safe-user", body);
        expect([query, answer.status, answer.body.errors]).toEqual([query, 200, undefined]);
      }
    }
    const deployments = await post(t, "safe-user", {
      ...byHash(dashboard.DEPLOYMENTS),
      variables: { first: 5 },
    });
    expect(deployments.body.data).toMatchObject({
      deployments: { edges: [{ node: { id: rows.deployment.id } }] },
    });
    const get = await fetch(
      `${t.url}/graphql?extensions=${encodeURIComponent(JSON.stringify(byHash(dashboard.ME).extensions))}`,
      { headers: { authorization: `Bearer ${await t.token("safe-user")}` } },
    );
    expect(await get.json()).toEqual({ data: { me: { id: "safe-user" } } });
  });

  it("runs the dashboard's subscriptions over WebSocket", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "safe-live");
    const client: Client = wsClient(t.url, await t.token("safe-live"));
    try {
      const updates = collect(client, dashboard.DEPLOYMENT_UPDATED, { id: rows.deployment.id }, (d) => d);
      const metrics = collect(client, dashboard.TRAINING_METRICS, { jobId: rows.job.id }, (d) => d);
      const alerts = collect(client, dashboard.BUDGET_ALERTS, {}, (d) => d);
      // graphql-ws does not say when a subscription is live: nudge until the first event comes through.
      let step = 0;
      await eventually(async () => {
        await t.gateway.services.deployments.publish(rows.deployment);
        const res = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
          body: JSON.stringify({ step: step++, loss: 1 }),
        });
        expect(res.status).toBe(200);
        return updates.values.length > 0 && metrics.values.length > 0;
      }, "a deployment update and a metric point");
      expect(updates.values[0]).toMatchObject({ deploymentUpdated: { id: rows.deployment.id } });
      expect(metrics.values[0]).toMatchObject({ trainingMetrics: { jobId: rows.job.id } });
      expect([...updates.errors, ...metrics.errors, ...alerts.errors]).toEqual([]);
      for (const subscription of [updates, metrics, alerts]) subscription.dispose();
    } finally {
      await client.dispose();
    }
  });

  it("runs a registered hash sent alone over WebSocket", async () => {
    const client = wsClient(t.url, await t.token("safe-ws-hash"));
    try {
      expect(await firstAnswer(client, { query: "", ...byHash(dashboard.ME) })).toEqual({
        data: { me: { id: "safe-ws-hash" } },
      });
    } finally {
      await client.dispose();
    }
  });

  it("refuses an unregistered document with BAD_REQUEST: in full, by hash, over GET, in a batch, over WebSocket", async () => {
    const query = "query NotRegistered { me { id } }";
    const refused = (answer: Answer) => [
      answer.status,
      answer.body.data,
      answer.body.errors?.[0].extensions?.code,
    ];
    expect(refused(await post(t, "safe-user", { query }))).toEqual([400, undefined, "BAD_REQUEST"]);
    expect(refused(await post(t, "safe-user", byHash(query)))).toEqual([400, undefined, "BAD_REQUEST"]);
    expect(refused(await post(t, "safe-user", { query, ...byHash(query) }))).toEqual([
      400,
      undefined,
      "BAD_REQUEST",
    ]);
    expect((await post(t, "safe-user", { query })).body.errors?.[0].message).toContain(documentHash(query));
    // A registered hash cannot carry another document: Apollo checks that the two agree.
    expect(refused(await post(t, "safe-user", { query, ...byHash(dashboard.ME) }))[2]).toBe("BAD_REQUEST");
    const malformed = await post(t, "safe-user", {
      extensions: { persistedQuery: { version: 1, sha256Hash: "x".repeat(10_000) } },
    });
    expect(refused(malformed)).toEqual([400, undefined, "BAD_REQUEST"]);
    expect(malformed.body.errors?.[0].message).toBe(
      "extensions.persistedQuery.sha256Hash must be 64 hex digits",
    );
    const batch = await post(t, "safe-user", [{ query: dashboard.ME }, { query }]);
    expect(refused(batch)).toEqual([400, undefined, "BAD_REQUEST"]);

    const get = await fetch(`${t.url}/graphql?query=${encodeURIComponent(query)}`, {
      headers: { authorization: `Bearer ${await t.token("safe-user")}` },
    });
    expect(get.status).toBe(400);
    expect(((await get.json()) as Answer["body"]).errors?.[0].extensions?.code).toBe("BAD_REQUEST");

    const client = wsClient(t.url, await t.token("safe-user"));
    try {
      for (const payload of [{ query }, { query: "", ...byHash(query) }]) {
        expect(JSON.stringify(await firstAnswer(client, payload))).toContain('"code":"BAD_REQUEST"');
      }
    } finally {
      await client.dispose();
    }
  });
});

describe("PERSISTED_QUERIES=off", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: { PERSISTED_QUERIES: "off" } });
  });
  afterAll(() => t.close());

  it("answers a hash PersistedQueryNotSupported, on which clients send the document alone, which runs", async () => {
    for (const body of [byHash(ME), { query: ME, ...byHash(ME) }]) {
      const answer = await post(t, "no-apq", body);
      expect(answer.body.data).toBeUndefined();
      expect(answer.body.errors?.[0]).toMatchObject({
        message: "PersistedQueryNotSupported",
        extensions: { code: "PERSISTED_QUERY_NOT_SUPPORTED" },
      });
    }
    expect((await post(t, "no-apq", { query: ME })).body).toEqual({ data: { me: { id: "no-apq" } } });
  });
});
