import { refusedAddress, urlProblem } from "./webhook-address";
import { nextAttemptAt, DEFAULT_RETRY_SCHEDULE } from "./webhook-retry";
import { verifyWebhook } from "../../client-examples/verify-webhook";
import { newSigningSecret, signatureHeader } from "./webhook-signature";

describe("refusedAddress", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.255.0.9", true],
    ["10.0.0.1", true],
    ["172.16.5.4", true],
    ["172.32.0.1", false],
    ["192.168.1.1", true],
    ["169.254.169.254", true],
    ["100.100.100.200", true],
    ["0.0.0.0", true],
    ["224.0.0.1", true],
    ["8.8.8.8", false],
    ["203.0.113.9", false],
    ["::1", true],
    ["::", true],
    ["fe80::1", true],
    ["fd00:ec2::254", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:10.0.0.1", true],
    ["::ffff:8.8.8.8", false],
    ["2606:4700::1111", false],
  ])("%s refused: %s", (address, refused) => {
    expect(refusedAddress(address) !== undefined).toBe(refused);
  });
});

describe("urlProblem", () => {
  it.each([
    ["https://hooks.example.com/x", false, undefined],
    ["http://hooks.example.com/x", false, undefined],
    ["http://hooks.example.com/x", true, "must be an https:// URL in production"],
    ["https://hooks.example.com/x", true, undefined],
    ["ftp://hooks.example.com/x", false, "must be an https:// URL"],
    ["hooks.example.com/x", false, "must be an absolute URL"],
    ["https://user:pw@hooks.example.com/x", false, "must not carry a user name or password"],
  ])("%s (production %s): %s", (url, production, problem) => {
    expect(urlProblem(url, production)).toBe(problem);
  });
});

describe("nextAttemptAt", () => {
  const eventAt = new Date("2026-01-01T00:00:00Z");
  const after = (ms: number) => new Date(eventAt.getTime() + ms);

  it.each([
    // attempt, random, delay after the failure
    [1, 0, 15_000],
    [1, 1, 30_000],
    [2, 0.5, 45_000],
    [3, 0, 60_000],
    [8, 1, 3_600_000],
    [20, 0, 1_800_000],
  ])("after attempt %d with jitter %d waits %d ms", (attempt, random, delay) => {
    const now = after(1_000);
    expect(nextAttemptAt(attempt, eventAt, now, DEFAULT_RETRY_SCHEDULE, () => random)!.getTime()).toBe(
      now.getTime() + delay,
    );
  });

  it("gives up once the next attempt would start more than 24 hours after the event", () => {
    expect(nextAttemptAt(20, eventAt, after(86_400_000 - 1_000), DEFAULT_RETRY_SCHEDULE, () => 0)).toBeNull();
    expect(
      nextAttemptAt(1, eventAt, after(86_400_000 - 20_000), DEFAULT_RETRY_SCHEDULE, () => 0),
    ).not.toBeNull();
  });
});

describe("the signature", () => {
  const secret = newSigningSecret();
  const body = JSON.stringify({ id: "e1", type: "DEPLOYMENT_COMPLETED" });

  it("is Stripe's scheme: t=<unix>,v1=<hex HMAC-SHA256 of t.body>", () => {
    const header = signatureHeader("whsec_test", "{}", 1_700_000_000);
    // printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
    expect(header).toBe("t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91");
  });

  it.each([
    ["the same body and secret, in time", secret, body, 1_000_100, true],
    ["a changed body", secret, `${body} `, 1_000_100, false],
    ["another secret", newSigningSecret(), body, 1_000_100, false],
    ["more than 5 minutes later", secret, body, 1_000_301, false],
  ])("client-examples/verify-webhook.ts accepts %s: %s", (_, key, signed, now, valid) => {
    expect(verifyWebhook(key, signed, signatureHeader(secret, body, 1_000_000), 300, now)).toBe(valid);
  });
});
