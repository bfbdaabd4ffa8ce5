import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import pino from "pino";
import { createRequestLimiter, InProcessRequestLimiter, RedisRequestLimiter } from "./request-limiter";

function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { logger: pino({ level: "warn" }, stream), lines };
}

describe("InProcessRequestLimiter", () => {
  it("lets a user's burst through, then asks for whole seconds, per user", async () => {
    let now = 0;
    const limiter = new InProcessRequestLimiter({ ratePerSecond: 1, burst: 3 }, 10, () => now);
    for (let i = 0; i < 3; i++) expect(await limiter.take("a")).toBe(0);
    expect(await limiter.take("a")).toBe(1);
    expect(await limiter.take("b")).toBe(0);
    now = 1_000;
    expect(await limiter.take("a")).toBe(0);
    expect(await limiter.take("a", 2)).toBe(2);
  });

  it("keeps at most maxUsers buckets, dropping the least recently seen", async () => {
    const limiter = new InProcessRequestLimiter({ ratePerSecond: 1, burst: 1 }, 2, () => 0);
    await limiter.take("a");
    await limiter.take("b");
    await limiter.take("a");
    await limiter.take("c"); // b goes
    expect(await limiter.take("a")).toBe(1);
    expect(await limiter.take("b")).toBe(0);
  });
});

describe("createRequestLimiter", () => {
  it("limits nothing when the rate or the burst is 0", async () => {
    const { logger } = capturedLogger();
    for (const [ratePerSecond, burst] of [
      [0, 5],
      [5, 0],
    ]) {
      const limiter = await createRequestLimiter({ ratePerSecond, burst }, logger);
      for (let i = 0; i < 20; i++) expect(await limiter.take("u")).toBe(0);
      await limiter.close();
    }
  });
});

describe("RedisRequestLimiter", () => {
  it("fails open, with one warning, while Redis cannot be reached", async () => {
    const { logger, lines } = capturedLogger();
    const limiter = await RedisRequestLimiter.connect(
      "redis://127.0.0.1:1",
      { ratePerSecond: 1, burst: 1 },
      logger,
    );
    try {
      for (let i = 0; i < 5; i++) expect(await limiter.take("u")).toBe(0);
      expect(lines.filter((line) => line.includes("redis unreachable"))).toHaveLength(1);
    } finally {
      await limiter.close();
    }
  });

  // Defined only where there is a Redis to share (PostgreSQL + Redis mode); rate-limits.spec.ts checks the same
  // across two gateways.
  const sharedRedis = process.env.REDIS_URL ? it : undefined;
  sharedRedis?.("shares one bucket between limiters on one Redis", async () => {
    const { logger } = capturedLogger();
    const url = process.env.REDIS_URL!;
    const limits = { ratePerSecond: 1, burst: 4 };
    const [a, b] = await Promise.all([
      RedisRequestLimiter.connect(url, limits, logger),
      RedisRequestLimiter.connect(url, limits, logger),
    ]);
    const user = `limiter-${randomUUID()}`;
    try {
      expect([await a.take(user), await b.take(user), await a.take(user, 2)]).toEqual([0, 0, 0]);
      const waits = [await b.take(user, 4), await a.take(user, 4)];
      // Four tokens come back in four seconds (less what refilled meanwhile), and another user is unaffected.
      for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(1);
      expect(await b.take(`other-${user}`)).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
