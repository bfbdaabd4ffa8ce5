import pino from "pino";
import { dropTestDatabases, freshDatabase } from "../../test/support/database";
import { createLeaderLock } from "./leader";

const logger = pino({ level: "silent" });
afterAll(dropTestDatabases);

describe("leader election", () => {
  it("lets exactly one replica lead on PostgreSQL, and hands over when it leaves (embedded: always leads)", async () => {
    const { databaseUrl } = await freshDatabase();
    const a = createLeaderLock(databaseUrl, logger);
    const b = createLeaderLock(databaseUrl, logger);
    try {
      const [first] = await Promise.all([a.isLeader(), a.isLeader()]);
      const second = await b.isLeader();
      if (!databaseUrl) {
        // One process, one PGlite: nobody to compete with.
        expect([first, second]).toEqual([true, true]);
        return;
      }
      expect([first, second]).toEqual([true, false]);
      // Every background task asks at once; they share one election and one connection.
      expect(await Promise.all([a.isLeader(), a.isLeader(), b.isLeader(), b.isLeader()])).toEqual([
        true,
        true,
        false,
        false,
      ]);
      expect(await a.isLeader()).toBe(true);
      await a.release();
      expect(await b.isLeader()).toBe(true);
      expect(await a.isLeader()).toBe(false);
    } finally {
      await a.release();
      await b.release();
    }
  });
});
