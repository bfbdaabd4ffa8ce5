import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from "jose";
import { startTestGateway, type TestGateway } from "./support/gateway";

/**
 * Tokens from an identity provider (RS256 or ES256) verified through its JWKS endpoint, with issuer and
 * audience pinned: what a Supabase- or Auth0-backed deployment runs with.
 */
type Key = KeyLike;
let jwks: Server;
let t: TestGateway;
const keys: { rsa?: { privateKey: Key }; ec?: { privateKey: Key }; stranger?: { privateKey: Key } } = {};
const ISSUER = "https://idp.example.com/";
const AUDIENCE = "traingate";

beforeAll(async () => {
  const rsa = await generateKeyPair("RS256");
  const ec = await generateKeyPair("ES256");
  keys.rsa = rsa;
  keys.ec = ec;
  keys.stranger = await generateKeyPair("RS256");
  const published = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ],
  };
  jwks = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(published));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/.well-known/jwks.json`;
  t = await startTestGateway({
    env: { JWT_SECRET: undefined, JWKS_URL: url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
  });
});
afterAll(async () => {
  await t.close();
  await new Promise<void>((resolve) => jwks.close(() => resolve()));
});

function token(key: Key, alg: "RS256" | "ES256", kid: string, claims: { iss?: string; aud?: string } = {}) {
  return new SignJWT({ role: "authenticated" })
    .setProtectedHeader({ alg, kid })
    .setSubject("idp-user-42")
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

async function me(bearer: string) {
  const res = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: "{ me { id } }" }),
  });
  return (await res.json()) as {
    data: { me: { id: string } } | null;
    errors?: { message: string; extensions: { code: string } }[];
  };
}

describe("JWKS_URL", () => {
  it.each([
    ["RS256", () => token(keys.rsa!.privateKey, "RS256", "rsa-1")],
    ["ES256", () => token(keys.ec!.privateKey, "ES256", "ec-1")],
  ])("accepts a %s token signed by a published key", async (_alg, make) => {
    expect((await me(await make())).data?.me.id).toBe("idp-user-42");
  });

  it.each([
    [
      "a key the provider does not publish",
      () => token(keys.stranger!.privateKey, "RS256", "rsa-1"),
      /signature/,
    ],
    [
      "another issuer",
      () => token(keys.rsa!.privateKey, "RS256", "rsa-1", { iss: "https://evil.example.com/" }),
      /iss/,
    ],
    ["another audience", () => token(keys.rsa!.privateKey, "RS256", "rsa-1", { aud: "someone-else" }), /aud/],
  ])("refuses a token from %s", async (_case, make, message) => {
    const body = await me(await make());
    expect(body.errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
    expect(body.errors?.[0].message).toMatch(message);
  });

  it("refuses an HS256 token even when it names a published key id", async () => {
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .setSubject("x")
      .sign(new TextEncoder().encode("x".repeat(32)));
    expect((await me(forged)).errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
  });
});
