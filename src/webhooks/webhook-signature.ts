import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The request header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const SIGNATURE_HEADER = "X-TrainGate-Signature";
/** The request header carrying the event's id, the same on every attempt: receivers deduplicate on it. */
export const EVENT_ID_HEADER = "X-TrainGate-Event-Id";

/** A new signing secret: 32 random bytes, prefixed so a leaked one is recognisable in a scan. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/**
 * The Stripe scheme: HMAC-SHA256, keyed by the whole secret string, over `<t>.<body>` with `t` the unix time
 * in seconds when the attempt was signed (each attempt is signed afresh, so receivers can refuse old ones).
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmac(secret, unixSeconds, body)}`;
}

/**
 * Whether `header` signs `body` with `secret` and is at most `toleranceSeconds` old: what a receiver checks
 * (client-examples/verify-webhook.ts is the same check, standing alone).
 */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = header.split(",").map((part) => part.split("=", 2) as [string, string?]);
  const t = Number(parts.find(([key]) => key === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, t, body), "hex");
  return parts.some(([key, value]) => {
    if (key !== "v1" || !value) return false;
    const given = Buffer.from(value, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function hmac(secret: string, unixSeconds: number, body: string): string {
  return createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
}
