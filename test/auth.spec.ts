import { SignJWT } from "jose";
import WebSocket from "ws";
import { createClient } from "graphql-ws";
import { startTestGateway, TEST_JWT_SECRET, type TestGateway } from "./support/gateway";

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

async function postAs(authorization: string | undefined) {
  const response = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query: "{ me { id } }" }),
  });
  return (await response.json()) as {
    data: { me: { id: string } } | null;
    errors?: { message: string; extensions: { code: string } }[];
  };
}

/** A token with `claims`; `exp` is an hour from now unless given (null: no `exp` at all). */
const sign = (claims: { sub?: string; exp?: number | null }, secret = TEST_JWT_SECRET) => {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  const exp = claims.exp === undefined ? Math.floor(Date.now() / 1000) + 3600 : claims.exp;
  if (exp !== null) jwt = jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
};

describe("authentication over HTTP", () => {
  it.each([
    ["no header", () => Promise.resolve(undefined), /authentication required/],
    ["a non-Bearer scheme", () => Promise.resolve("Basic dXNlcjpwYXNz"), /Bearer/],
    ["a malformed token", () => Promise.resolve("Bearer not-a-jwt"), /malformed/],
    [
      "an expired token",
      async () => `Bearer ${await sign({ sub: "u1", exp: Math.floor(Date.now() / 1000) - 60 })}`,
      /expired/,
    ],
    [
      "a token signed with another secret",
      async () => `Bearer ${await sign({ sub: "u1" }, "another-secret-that-is-also-32-characters")}`,
      /signature/,
    ],
    ["a token without a subject", async () => `Bearer ${await sign({})}`, /subject/],
    [
      "a token without exp (it would never expire)",
      async () => `Bearer ${await sign({ sub: "u1", exp: null })}`,
      /no exp claim/,
    ],
    ["a subject holding a NUL character", async () => `Bearer ${await sign({ sub: "u\u00001" })}`, /NUL/],
    [
      "a subject longer than 255 characters",
      async () => `Bearer ${await sign({ sub: "x".repeat(256) })}`,
      /255/,
    ],
  ])("refuses %s with UNAUTHENTICATED", async (_case, header, message) => {
    const body = await postAs(await header());
    expect(body.data).toBeNull();
    expect(body.errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
    expect(body.errors?.[0].message).toMatch(message);
  });

  it("accepts a valid token and creates the user on first sight", async () => {
    const token = await sign({ sub: "supabase|7f3e-user", exp: Math.floor(Date.now() / 1000) + 60 });
    const body = await postAs(`Bearer ${token}`);
    expect(body.errors).toBeUndefined();
    expect(body.data?.me.id).toBe("supabase|7f3e-user");
    const rows = await t.gateway.db.dataSource.query<{ id: string }[]>(`SELECT id FROM users WHERE id = $1`, [
      "supabase|7f3e-user",
    ]);
    expect(rows).toHaveLength(1);
  });
});

describe("authentication over WebSocket", () => {
  const wsUrl = () => `${t.url.replace("http", "ws")}/graphql`;

  function closeCodeFor(connectionParams: Record<string, unknown> | undefined): Promise<number> {
    return new Promise((resolve) => {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        lazy: false,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.on("closed", () => void client.dispose());
    });
  }

  it("closes the socket with 4403 for a missing token", async () => {
    expect(await closeCodeFor(undefined)).toBe(4403);
  });

  it("closes the socket with 4403 for a bad token", async () => {
    expect(await closeCodeFor({ authorization: "Bearer nope" })).toBe(4403);
    const expired = await sign({ sub: "u1", exp: Math.floor(Date.now() / 1000) - 5 });
    expect(await closeCodeFor({ authorization: `Bearer ${expired}` })).toBe(4403);
  });

  it("runs operations for a valid token sent in connection_init", async () => {
    const client = createClient({
      url: wsUrl(),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await t.token("ws-user")}` },
      retryAttempts: 0,
    });
    try {
      const result = await new Promise<unknown>((resolve, reject) => {
        let value: unknown;
        client.subscribe(
          { query: "{ me { id } }" },
          { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
        );
      });
      expect(result).toEqual({ data: { me: { id: "ws-user" } } });
    } finally {
      await client.dispose();
    }
  });
});
