import { DataSource } from "typeorm";
import { dataSourceOptions, openPglite } from "./data-source";

/**
 * PGlite is one Postgres session. The pool must still give TypeORM what a real pool gives: a transaction on
 * one query runner is not joined by statements from another caller.
 */
describe("embedded database pool", () => {
  let ds: DataSource;
  beforeAll(async () => {
    const pglite = await openPglite();
    ds = new DataSource({ ...dataSourceOptions({ entities: [], pglite }), migrations: [] });
    await ds.initialize();
    await ds.query(`CREATE TABLE t (v int)`);
  });
  afterAll(() => ds.destroy());

  it("keeps a concurrent write out of a transaction that rolls back", async () => {
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    const tx = ds
      .transaction(async (manager) => {
        await manager.query(`INSERT INTO t VALUES (1)`);
        await paused;
        throw new Error("roll back");
      })
      .catch((error: Error) => error.message);
    // This write arrives while the transaction is open; with a shared session it would be rolled back too.
    const outside = ds.query(`INSERT INTO t VALUES (2)`);
    release();
    expect(await tx).toBe("roll back");
    await outside;
    expect(await ds.query(`SELECT v FROM t ORDER BY v`)).toEqual([{ v: 2 }]);
  });

  it("reports affected rows and returns int8 as strings, like node-postgres", async () => {
    const [, affected] = await ds.query<[unknown, number]>(`UPDATE t SET v = 3 WHERE v = 2`);
    expect(affected).toBe(1);
    expect(await ds.query(`SELECT 9007199254740993::int8 AS big, '1.500000'::numeric AS num`)).toEqual([
      { big: "9007199254740993", num: "1.500000" },
    ]);
  });
});
