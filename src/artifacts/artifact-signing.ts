import { createHmac, timingSafeEqual } from "node:crypto";

/** How long a `downloadUrl` stays valid. */
export const DOWNLOAD_URL_TTL_SECONDS = 15 * 60;

/**
 * Signs and checks artifact download links: HMAC-SHA256 over `<jobId>.<expires>` with a key derived from the
 * gateway's encryption key (never the key itself), so a link names one job until one instant and nothing else.
 */
export class DownloadSigner {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    this.key = createHmac("sha256", secret).update("traingate artifact download v1").digest();
  }

  /** The query string (`expires=…&signature=…`) of a link valid until `now + ttl`. */
  sign(jobId: string, now = Date.now(), ttlSeconds = DOWNLOAD_URL_TTL_SECONDS): string {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    return `expires=${expires}&signature=${this.mac(jobId, expires)}`;
  }

  /** "valid", "expired" (a genuine link past its time) or "invalid" (anything else). */
  verify(
    jobId: string,
    expires: string | null,
    signature: string | null,
    now = Date.now(),
  ): "valid" | "expired" | "invalid" {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return "invalid";
    const expected = Buffer.from(this.mac(jobId, Number(expires)));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "invalid";
    return Number(expires) * 1000 < now ? "expired" : "valid";
  }

  private mac(jobId: string, expires: number): string {
    return createHmac("sha256", this.key).update(`${jobId.toLowerCase()}.${expires}`).digest("base64url");
  }
}
