import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTVerifyResult } from "jose";
import type { JwtConfig } from "../config/env";

/** Who a verified token says the caller is. */
export interface Principal {
  userId: string;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

export type TokenVerifier = (token: string) => Promise<Principal>;

const MAX_SUB_LENGTH = 255;

/**
 * Verifies user tokens: HS256 with `JWT_SECRET`, or RS256/ES256 through `JWKS_URL`. `exp` is required and
 * enforced (a token without it would never expire); the user id is `sub`.
 */
export function createTokenVerifier(config: JwtConfig): TokenVerifier {
  const options = {
    issuer: config.issuer,
    audience: config.audience,
    requiredClaims: ["exp"],
    algorithms: config.kind === "secret" ? ["HS256"] : ["RS256", "ES256"],
  };
  let verify: (token: string) => Promise<JWTVerifyResult>;
  if (config.kind === "secret") {
    const secret = new TextEncoder().encode(config.secret);
    verify = (token) => jwtVerify(token, secret, options);
  } else {
    const keys = createRemoteJWKSet(new URL(config.jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
    });
    verify = (token) => jwtVerify(token, keys, options);
  }
  return async (token: string) => {
    try {
      const { payload } = await verify(token);
      if (typeof payload.sub !== "string" || payload.sub.length === 0) {
        throw new TokenError("token has no subject (sub)");
      }
      if (payload.sub.length > MAX_SUB_LENGTH) {
        throw new TokenError(`token subject is longer than ${MAX_SUB_LENGTH} characters`);
      }
      // PostgreSQL text cannot hold NUL: such a subject could never be a user id.
      if (payload.sub.includes("\u0000")) throw new TokenError("token subject contains a NUL character");
      return { userId: payload.sub };
    } catch (error) {
      throw new TokenError(describeJoseError(error));
    }
  };
}

function describeJoseError(error: unknown): string {
  if (error instanceof TokenError) return error.message;
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (error instanceof errors.JWTClaimValidationFailed)
    return error.reason === "missing"
      ? `token has no ${error.claim} claim`
      : `token claim rejected: ${error.claim}`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key matches the token";
  if (error instanceof errors.JWKSTimeout) return "could not fetch the signing keys in time";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "token is malformed";
  return "token is invalid";
}

/** Extracts the token from an `Authorization: Bearer …` value. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Signs a development token for `sub` with an HS256 secret. */
export async function signDevToken(
  secret: string,
  sub: string,
  ttlSeconds = 30 * 24 * 3600,
  claims: { issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
