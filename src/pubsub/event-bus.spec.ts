import pino from "pino";
import type { EventBus, Topic } from "./event-bus";
import { InProcessEventBus } from "./in-process-bus";
import { RedisEventBus } from "./redis-bus";

const logger = pino({ level: "silent" });
const implementations: [string, () => Promise<EventBus>][] = [
  ["in-process", () => Promise.resolve(new InProcessEventBus())],
];
if (process.env.REDIS_URL) {
  const url = process.env.REDIS_URL;
  implementations.push(["redis", () => RedisEventBus.connect(url, logger)]);
}

describe.each(implementations)("%s event bus", (_name, create) => {
  let a: EventBus;
  let b: EventBus;
  beforeAll(async () => {
    // Two instances stand for two replicas: what one publishes, the other's listeners receive (Redis), or,
    // in-process, one instance plays both parts.
    a = await create();
    b = _name === "redis" ? await create() : a;
  });
  afterAll(async () => {
    await a.close();
    if (b !== a) await b.close();
  });

  const topic = (name: string): Topic<{ n: number; at: string }> =>
    `test/${name}/${process.pid}/${Math.random()}`;

  it("delivers every event published after listen() resolved, in order", async () => {
    const t = topic("order");
    const received: number[] = [];
    const done = new Promise<void>((resolve) => {
      void b
        .listen(t, (payload) => {
          received.push(payload.n);
          if (payload.n === 99) resolve();
        })
        .then(async () => {
          for (let n = 0; n < 100; n++) await a.publish(t, { n, at: new Date(0).toISOString() });
        });
    });
    await done;
    expect(received).toEqual(Array.from({ length: 100 }, (_, n) => n));
  });

  it("hands listeners JSON copies, never the publisher's object", async () => {
    const t = topic("copy");
    const payload = { n: 1, at: "2026-01-01T00:00:00.000Z" };
    const got = new Promise<unknown>((resolve) => {
      void b.listen(t, resolve).then(() => a.publish(t, payload));
    });
    const value = await got;
    expect(value).toEqual(payload);
    expect(value).not.toBe(payload);
  });

  it("stops delivering after unlisten", async () => {
    const t = topic("unlisten");
    const seen: number[] = [];
    let first!: () => void;
    const firstSeen = new Promise<void>((resolve) => (first = resolve));
    const unlisten = await b.listen(t, (p) => {
      seen.push(p.n);
      first();
    });
    let last!: () => void;
    const lastSeen = new Promise<void>((resolve) => (last = resolve));
    await b.listen(t, (p) => p.n === 2 && last());
    await a.publish(t, { n: 1, at: "" });
    await firstSeen;
    await unlisten();
    await a.publish(t, { n: 2, at: "" });
    await lastSeen;
    expect(seen).toEqual([1]);
  });

  it("answers ping", async () => {
    expect(await a.ping()).toBe(true);
  });
});
