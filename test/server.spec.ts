import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  printSchema,
  type IntrospectionQuery,
} from "graphql";
import { startTestGateway, type TestGateway } from "./support/gateway";

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

describe("HTTP server", () => {
  it("answers liveness and readiness with the state of the database and pub/sub", async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", database: "ok", pubsub: "ok" });
  });

  it("tags every response with a request id, keeping a sane incoming one", async () => {
    const res = await fetch(`${t.url}/healthz`, { headers: { "x-request-id": "trace-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-123");
    const fresh = await fetch(`${t.url}/healthz`, { headers: { "x-request-id": "bad id with spaces" } });
    expect(fresh.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends no X-Powered-By header, from the API, the health routes or the web pages", async () => {
    for (const route of ["/healthz", "/dashboard", "/playground", "/nope"]) {
      const res = await fetch(`${t.url}${route}`);
      expect([route, res.headers.get("x-powered-by")]).toEqual([route, null]);
    }
    const api = await t.gql(null, "{ __typename }");
    expect(api.status).toBe(200);
  });

  it("serves exactly the committed schema/schema.graphql, field order included", async () => {
    const res = await t.gql<IntrospectionQuery>(null, getIntrospectionQuery({ specifiedByUrl: true }));
    const committed = readFileSync(path.resolve(__dirname, "../schema/schema.graphql"), "utf8");
    expect(printSchema(buildClientSchema(res.data!))).toBe(printSchema(buildSchema(committed)));
  });

  it("answers unknown paths with a JSON 404", async () => {
    const res = await fetch(`${t.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });

  it("refuses bodies over 1 MiB with 413", async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `{ me { id } }`, variables: { pad: "x".repeat(1_100_000) } }),
    });
    expect(res.status).toBe(413);
  });

  it("keeps CSRF prevention on: a GET without a token or a preflight header is refused with BAD_REQUEST", async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent("{ me { id } }")}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0].message).toMatch(/CSRF/i);
    expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
  });

  it("serves GET queries that carry a bearer token, as urql and graphql-request send them", async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent("{ me { id } }")}`, {
      headers: { authorization: `Bearer ${await t.token("getter")}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { me: { id: "getter" } } });
  });

  it("serves GET queries from clients that send the preflight header", async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent("{ me { id } }")}`, {
      headers: { "apollo-require-preflight": "true", authorization: `Bearer ${await t.token("getter")}` },
    });
    expect(await res.json()).toEqual({ data: { me: { id: "getter" } } });
  });

  it("never runs a mutation sent with GET", async () => {
    const mutation = `mutation { deleteTrainingConfig(id: "00000000-0000-4000-8000-000000000000") }`;
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent(mutation)}`, {
      headers: { authorization: `Bearer ${await t.token("getter")}` },
    });
    expect(res.status).toBe(405);
    const body = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
  });
});

describe("batched requests", () => {
  async function batch(operations: { query: string }[]) {
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await t.token("batcher")}` },
      body: JSON.stringify(operations),
    });
    return { status: res.status, body: await res.json() };
  }

  it("answers a batch with one result per operation, in order", async () => {
    const res = await batch([{ query: "{ me { id } }" }, { query: "{ a: me { id } }" }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ data: { me: { id: "batcher" } } }, { data: { a: { id: "batcher" } } }]);
  });

  it("refuses a batch of more than 10 operations with BAD_REQUEST", async () => {
    const res = await batch(Array.from({ length: 11 }, () => ({ query: "{ me { id } }" })));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          message: "a batch holds at most 10 operations (this one has 11)",
          extensions: { code: "BAD_REQUEST" },
        },
      ],
    });
  });

  it("applies the query limits to each operation of a batch", async () => {
    const aliased = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(" ")} }`;
    const res = await batch([{ query: "{ me { id } }" }, { query: aliased }]);
    const [ok, refused] = res.body as { data?: unknown; errors?: { extensions: { code: string } }[] }[];
    expect(ok).toEqual({ data: { me: { id: "batcher" } } });
    expect(refused.errors?.[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
  });
});

describe("automatic persisted queries", () => {
  it("runs a document by its SHA-256 once it has been sent, over POST and GET", async () => {
    // With REDIS_URL the hashes outlive the gateway (15 min in a shared Redis): a document of this run's own.
    const query = `{ me { id } } # ${randomUUID()}`;
    const sha256Hash = createHash("sha256").update(query).digest("hex");
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const headers = { "content-type": "application/json", authorization: `Bearer ${await t.token("apq")}` };
    const send = async (body: Record<string, unknown>) =>
      (await fetch(`${t.url}/graphql`, { method: "POST", headers, body: JSON.stringify(body) })).json();

    const unknown = (await send({ extensions })) as {
      errors: { message: string; extensions: { code: string } }[];
    };
    expect(unknown.errors[0]).toMatchObject({
      message: "PersistedQueryNotFound",
      extensions: { code: "PERSISTED_QUERY_NOT_FOUND" },
    });
    expect(await send({ query, extensions })).toEqual({ data: { me: { id: "apq" } } });
    expect(await send({ extensions })).toEqual({ data: { me: { id: "apq" } } });
    const get = await fetch(`${t.url}/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`, {
      headers: { authorization: headers.authorization },
    });
    expect(await get.json()).toEqual({ data: { me: { id: "apq" } } });
  });

  it("refuses a document whose hash does not match", async () => {
    const extensions = { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } };
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await t.token("apq")}` },
      body: JSON.stringify({ query: "{ me { id } }", extensions }),
    });
    const body = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
  });
});

describe("request errors", () => {
  async function post(query: string, accept: string, variables?: Record<string, unknown>) {
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept,
        authorization: `Bearer ${await t.token("request-errors")}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    return { status: res.status, code: body.errors?.[0]?.extensions.code, hasData: "data" in body };
  }

  it("codes a document that does not parse GRAPHQL_PARSE_FAILED", async () => {
    expect(await post("{ me { id }", "application/json")).toEqual({
      status: 200,
      code: "GRAPHQL_PARSE_FAILED",
      hasData: false,
    });
    expect(await post("{ me { id }", "application/graphql-response+json")).toMatchObject({
      status: 400,
      code: "GRAPHQL_PARSE_FAILED",
    });
  });

  it("codes a document that does not validate GRAPHQL_VALIDATION_FAILED, and a wrong variable BAD_USER_INPUT", async () => {
    expect(await post("{ me { nope } }", "application/json")).toMatchObject({
      status: 200,
      code: "GRAPHQL_VALIDATION_FAILED",
    });
    expect(await post("{ me { nope } }", "application/graphql-response+json")).toMatchObject({
      status: 400,
      code: "GRAPHQL_VALIDATION_FAILED",
    });
    const query = "query($id: ID!) { deployment(id: $id) { id } }";
    expect(await post(query, "application/json", { id: { not: "an id" } })).toMatchObject({
      status: 200,
      code: "BAD_USER_INPUT",
    });
    expect(await post(query, "application/graphql-response+json", { id: { not: "an id" } })).toMatchObject({
      status: 400,
      code: "BAD_USER_INPUT",
    });
  });
});
