import { randomUUID } from "node:crypto";
import type { Client } from "graphql-ws";
import { freshDatabase, usingPostgres, usingRedis } from "./support/database";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { requireRedisServer, startRedisServer } from "./support/redis-server";
import { freePort, startSimulatedGateway, type SimulatedSetup } from "./support/simulated";
import { wsClient } from "./support/ws";

/** USER_RATE_BURST of the request-limit tests; the rate is 1 per second, so few tokens come back meanwhile. */
const BURST = 8;
const LIMITS = { USER_RATE_PER_SECOND: "1", USER_RATE_BURST: String(BURST) };
const ME = "{ me { id } }";

/** Each test's own user: in PG+Redis mode the buckets live in a Redis other runs share. */
const newUser = (name: string) => `${name}-${randomUUID()}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function post(t: TestGateway, user: string, query = ME): Promise<Answer> {
  const response = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await t.token(user)}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as Pick<Answer, "errors">;
  return { status: response.status, retryAfter: response.headers.get("retry-after"), errors: body.errors };
}

/** Sends `{ me }` as `user`, turn by turn to each gateway, until one is refused; answers how many went, and it. */
async function untilRefused(gateways: TestGateway[], user: string, most = 200) {
  for (let sent = 0; sent < most; sent++) {
    const answer = await post(gateways[sent % gateways.length], user);
    if (answer.status !== 200) return { allowed: sent, refusal: answer };
  }
  throw new Error(`no refusal in ${most} requests`);
}

function expectRateLimited(refusal: Answer) {
  expect(refusal.status).toBe(429);
  const seconds = Number(refusal.retryAfter);
  expect(Number.isInteger(seconds) && seconds >= 1).toBe(true);
  expect(refusal.errors).toHaveLength(1);
  expect(refusal.errors![0].extensions).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: seconds });
  expect(refusal.errors![0].message).toMatch(/USER_RATE_BURST/);
}

/** One operation over graphql-ws: its result, or the errors it ended with. */
function overWebSocket(client: Client, query: string) {
  return new Promise<{ data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] }>(
    (resolve) => {
      let result: { data?: unknown } = {};
      client.subscribe(
        { query },
        {
          next: (value) => (result = value),
          error: (errors) => resolve({ errors: errors as { extensions?: Record<string, unknown> }[] }),
          complete: () => resolve(result),
        },
      );
    },
  );
}

describe("the per-user request limit", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: LIMITS });
  });
  afterAll(() => t.close());

  it("answers 429, RATE_LIMITED and Retry-After over HTTP past the burst, for that user only", async () => {
    const user = newUser("rl-http");
    const { allowed, refusal } = await untilRefused([t], user);
    expect(allowed).toBeGreaterThanOrEqual(BURST);
    expectRateLimited(refusal);
    // Another user has a bucket of their own.
    const other = await post(t, newUser("rl-other"));
    expect(other).toMatchObject({ status: 200, errors: undefined });
  });

  it("counts every operation sent over WebSocket, and refuses with the same error", async () => {
    const user = newUser("rl-ws");
    const client = wsClient(t.url, await t.token(user));
    try {
      let allowed = 0;
      let refused: Awaited<ReturnType<typeof overWebSocket>> | undefined;
      while (!refused && allowed < 200) {
        const result = await overWebSocket(client, ME);
        if (result.errors) refused = result;
        else allowed++;
      }
      expect(allowed).toBeGreaterThanOrEqual(BURST);
      expect(refused?.errors).toHaveLength(1);
      const extensions = refused!.errors![0].extensions!;
      expect(extensions.code).toBe("RATE_LIMITED");
      expect(Number.isInteger(extensions.retryAfterSeconds)).toBe(true);
      expect(extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      // The socket stays open: the same user is refused over HTTP too, so it is one bucket for both.
      expect((await post(t, user)).status).toBe(429);
    } finally {
      await client.dispose();
    }
  });

  it("leaves anonymous requests to authentication", async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: ME }),
    });
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });
});

describe("the request limit across replicas", () => {
  it(
    usingPostgres() && usingRedis()
      ? "is one bucket for a user on two replicas sharing Redis"
      : "is one bucket for a user (embedded mode has one replica)",
    async () => {
      const shared = usingPostgres() ? await freshDatabase() : undefined;
      const a = await startTestGateway({ database: shared, env: LIMITS });
      const b = shared ? await startTestGateway({ database: shared, env: LIMITS }) : a;
      try {
        const { allowed, refusal } = await untilRefused([a, b], newUser("rl-replicas"));
        // Two buckets would let 2 x BURST through; one lets BURST (and what refills meanwhile) through.
        expect(allowed).toBeGreaterThanOrEqual(BURST);
        expect(allowed).toBeLessThan(2 * BURST);
        expectRateLimited(refusal);
      } finally {
        await a.close();
        if (b !== a) await b.close();
        await shared?.drop();
      }
    },
  );
});

// A Redis server of this test's own, on a spare port: the machine's shared one is never stopped.
requireRedisServer();

describe("the request limit while Redis is down", () => {
  it("lets requests through, and says so once", async () => {
    const port = await freePort();
    let redis = await startRedisServer(port);
    const t = await startTestGateway({ env: { ...LIMITS, REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      const user = newUser("rl-outage");
      expectRateLimited((await untilRefused([t], user)).refusal);

      await redis.kill();
      const answers = [];
      for (let i = 0; i < 2 * BURST; i++) answers.push((await post(t, user)).status);
      expect(answers.every((status) => status === 200)).toBe(true);
      const warnings = t.logs.lines.filter((line) =>
        line.includes("request rate limiter: redis unreachable"),
      );
      expect(warnings).toHaveLength(1);
    } finally {
      // Back up for the close, so the gateway's clients quit instead of waiting to reconnect.
      await redis.kill();
      redis = await startRedisServer(port);
      await t.close().catch(() => undefined);
      await redis.kill();
    }
  });
});

const DEPLOY = `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id status } }`;
const STOP = `mutation($id: ID!) { stopDeployment(id: $id) { status } }`;

describe("the per-user deploy caps", () => {
  let s: SimulatedSetup;
  beforeAll(async () => {
    s = await startSimulatedGateway({
      env: { MAX_ACTIVE_DEPLOYMENTS_PER_USER: "2", MAX_DEPLOYS_PER_HOUR: "3" },
    });
  });
  afterAll(() => s.close());

  const rowsOf = async (user: string) => {
    const [row] = await s.t.gateway.db.dataSource.query<{ deployments: number; jobs: number }[]>(
      `SELECT (SELECT count(*)::int FROM cloud_deployments WHERE user_id = $1) AS deployments,
              (SELECT count(*)::int FROM training_jobs WHERE user_id = $1) AS jobs`,
      [user],
    );
    return row;
  };
  const creates = () => s.sim.requests.filter((r) => r.fields.includes("podFindAndDeployOnDemand")).length;

  async function deploy(user: string, input: Record<string, unknown>) {
    const res = await s.t.gql<{ deployTraining: { id: string; status: string } }>(user, DEPLOY, { input });
    return { ...res, deployment: res.data?.deployTraining };
  }

  function expectRefused(
    res: Awaited<ReturnType<typeof deploy>>,
    variable: "MAX_ACTIVE_DEPLOYMENTS_PER_USER" | "MAX_DEPLOYS_PER_HOUR",
  ) {
    expect(res.status).toBe(429);
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].extensions).toMatchObject({ code: "RATE_LIMITED" });
    const seconds = res.errors![0].extensions!.retryAfterSeconds as number;
    expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 3600).toBe(true);
    expect(res.errors![0].message).toContain(variable);
  }

  it("refuses a deploy past the active cap and the hourly cap, storing nothing; a replay is still answered", async () => {
    const user = "quota-user";
    await s.withRunpodKey(user);
    const trainingConfigId = await s.newConfig(user);
    const first = await deploy(user, { trainingConfigId, idempotencyKey: "first" });
    const second = await deploy(user, { trainingConfigId });
    expect([first.errors, second.errors]).toEqual([undefined, undefined]);

    // Two active: a third is refused before anything is stored or asked upstream.
    s.sim.clearRequests();
    const third = await deploy(user, { trainingConfigId, idempotencyKey: "third" });
    expectRefused(third, "MAX_ACTIVE_DEPLOYMENTS_PER_USER");
    expect(await rowsOf(user)).toEqual({ deployments: 2, jobs: 2 });
    expect(creates()).toBe(0);
    // A replay of a deploy that was made is no new deploy.
    const replay = await deploy(user, { trainingConfigId, idempotencyKey: "first" });
    expect(replay.deployment?.id).toBe(first.deployment!.id);

    // One stopped: room for a third deploy, the last of the hour.
    expect((await s.t.gql(user, STOP, { id: first.deployment!.id })).errors).toBeUndefined();
    const again = await deploy(user, { trainingConfigId, idempotencyKey: "third" });
    expect(again.errors).toBeUndefined();
    expect((await s.t.gql(user, STOP, { id: again.deployment!.id })).errors).toBeUndefined();

    s.sim.clearRequests();
    const fourth = await deploy(user, { trainingConfigId });
    expectRefused(fourth, "MAX_DEPLOYS_PER_HOUR");
    expect(await rowsOf(user)).toEqual({ deployments: 3, jobs: 3 });
    expect(creates()).toBe(0);
    // Replays are answered at the hourly cap too, and other users are not limited by this one's deploys.
    expect((await deploy(user, { trainingConfigId, idempotencyKey: "third" })).deployment?.id).toBe(
      again.deployment!.id,
    );
    await s.withRunpodKey("quota-other");
    const other = await deploy("quota-other", { trainingConfigId: await s.newConfig("quota-other") });
    expect(other.errors).toBeUndefined();
  });

  it("lets no more than the cap through when one user deploys concurrently", async () => {
    const user = "quota-race";
    await s.withRunpodKey(user);
    const trainingConfigId = await s.newConfig(user);
    const results = await Promise.all(Array.from({ length: 5 }, () => deploy(user, { trainingConfigId })));
    const codes = results.map((r) => r.errors?.[0]?.extensions?.code ?? "OK").sort();
    expect(codes).toEqual(["OK", "OK", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    expect(await rowsOf(user)).toEqual({ deployments: 2, jobs: 2 });
  });

  it("answers concurrent replays of one idempotency key with one deployment at the last free place", async () => {
    const user = "quota-replays";
    await s.withRunpodKey(user);
    const trainingConfigId = await s.newConfig(user);
    expect((await deploy(user, { trainingConfigId })).errors).toBeUndefined();
    const input = { trainingConfigId, idempotencyKey: "last-place" };
    const results = await Promise.all(Array.from({ length: 5 }, () => deploy(user, input)));
    expect(results.map((r) => r.errors)).toEqual(Array.from({ length: 5 }, () => undefined));
    expect(new Set(results.map((r) => r.deployment!.id)).size).toBe(1);
    expect(await rowsOf(user)).toEqual({ deployments: 2, jobs: 2 });
  });
});
