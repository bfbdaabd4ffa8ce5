/**
 * verify-webhook: checks that a request really comes from your TrainGate gateway, and receives its events.
 *
 *   TRAINGATE_WEBHOOK_SECRET=whsec_... npx tsx client-examples/verify-webhook.ts [--port 8080]
 *
 * Every delivery carries `X-TrainGate-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is the HMAC-SHA256,
 * keyed by the webhook's signing secret (the whole `whsec_…` string, as createWebhook showed it once), of the
 * string `<t>.<raw body>`: the Stripe scheme. Verify it over the raw bytes of the body, before parsing them,
 * refuse a `t` more than 5 minutes away from your clock (a replayed request), and compare in constant time.
 * `X-TrainGate-Event-Id` is the same on every attempt of one event: deliveries are at least once, so keep the
 * ids you have handled and ignore a repeat. Answer 2xx within 5 seconds; anything else is retried.
 *
 * `verifyWebhook` below is the whole check; copy it. Run as a script, this file is a receiver that prints each
 * verified event and answers 401 to anything unsigned.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

/** True when `signatureHeader` signs `rawBody` with `secret` and is at most `toleranceSeconds` old. */
export function verifyWebhook(
  secret: string,
  rawBody: string | Buffer,
  signatureHeader: string | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!signatureHeader) return false;
  const fields = signatureHeader.split(",").map((field) => field.trim().split("="));
  const t = Number(fields.find(([key]) => key === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${t}.`).update(rawBody).digest();
  // More than one v1 may come while a secret is being replaced: any match is enough.
  return fields.some(([key, value]) => {
    if (key !== "v1" || !value) return false;
    const given = Buffer.from(value, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8080" } } });
  const secret = process.env.TRAINGATE_WEBHOOK_SECRET;
  if (!secret) {
    console.error("set TRAINGATE_WEBHOOK_SECRET to the signingSecret createWebhook answered");
    process.exit(2);
  }
  const seen = new Set<string>();
  createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (!verifyWebhook(secret, body, req.headers["x-traingate-signature"] as string | undefined)) {
        res.writeHead(401).end("bad signature");
        return;
      }
      const eventId = String(req.headers["x-traingate-event-id"]);
      // Answered 2xx either way: a repeat was already handled.
      if (!seen.has(eventId)) {
        seen.add(eventId);
        console.log(`${eventId} ${body.toString("utf8")}`);
      }
      res.writeHead(204).end();
    });
  }).listen(Number(values.port), () => console.log(`listening on :${values.port}`));
}

if (require.main === module) main();
