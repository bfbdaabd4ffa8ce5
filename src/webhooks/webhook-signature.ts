import { createHmac, randomBytes } from "node:crypto";

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
 * Receivers check it as client-examples/verify-webhook.ts does.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmac(secret, unixSeconds, body)}`;
}

function hmac(secret: string, unixSeconds: number, body: string): string {
  return createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
}
