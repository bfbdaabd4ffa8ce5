import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A fresh job token: 32 random bytes, base64url. Only its hash is stored. */
export function newJobToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashJobToken(token) };
}

export function hashJobToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Constant-time comparison of a presented token with a stored hash. */
export function jobTokenMatches(token: string, storedHash: string): boolean {
  const presented = Buffer.from(hashJobToken(token), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
