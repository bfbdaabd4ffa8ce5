import type { DataSource } from "typeorm";
import { apportion } from "../src/costs/apportion";
import { Deployment } from "../src/deployments/deployment.entity";
import { DeploymentStatus } from "../src/deployments/deployment.enums";
import { GpuType } from "../src/runpod/gpu-catalogue";
import { oracleReport, type OracleReport } from "./support/cost-report-oracle";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

const REPORT = `query($from: DateTime, $to: DateTime, $first: Int) {
  costs(from: $from, to: $to) {
    totalUsd deploymentCount
    deployments(first: $first) { deployment { id } costUsd }
    byGpuType { gpuType gpuHours costUsd }
    byDay { day costUsd }
  }
}`;
type Report = {
  costs: {
    totalUsd: number;
    deploymentCount: number;
    deployments: { deployment: { id: string }; costUsd: number }[];
    byGpuType: { gpuType: string; gpuHours: number; costUsd: number }[];
    byDay: { day: string; costUsd: number }[];
  };
};

const DAY = 86_400_000;
const NOV_1 = Date.UTC(2026, 10, 1);
const GPU_TYPES = [GpuType.H100_SXM, GpuType.A100_SXM_80GB, GpuType.L40S, GpuType.RTX_A4000];

/** mulberry32: the same random data on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Micro-dollars that are no whole number of the API's units, so no two apportioning orders can differ by ties. */
const randomMicros = (rnd: () => number, most: number) => {
  const micros = Math.floor(rnd() * most);
  return micros % 100 === 0 ? micros + 1 : micros;
};

let t: TestGateway;
let db: DataSource;

beforeAll(async () => {
  t = await startTestGateway();
  db = t.gateway.db.dataSource;
});
afterAll(() => t.close());

async function report(userId: string, from: Date, to: Date, first = 1_000) {
  const res = await t.gql<Report>(userId, REPORT, { from: from.toISOString(), to: to.toISOString(), first });
  expect(res.errors).toBeUndefined();
  return res.data!.costs;
}

/**
 * What the report must say: the old computation's total, days and GPU-hours; each deployment that cost anything,
 * dearest first (ties: the newer), at its exact cost rounded; each GPU type's exact cost apportioned like the days.
 */
function expected(old: OracleReport) {
  const listed = old.exact
    .filter((d) => d.micros > 0)
    .sort((a, b) => b.micros - a.micros || b.createdAt.getTime() - a.createdAt.getTime());
  const types = old.byGpuType.map((g) => g.gpuType);
  const typeMicros = types.map((type) =>
    old.exact.filter((d) => d.gpuType === type).reduce((sum, d) => sum + d.micros, 0),
  );
  const typeUnits = apportion(typeMicros, Math.round(old.totalUsd * 10_000));
  return {
    totalUsd: old.totalUsd,
    deploymentCount: listed.length,
    deployments: listed.map((d) => ({
      deployment: { id: d.id },
      costUsd: Math.round(d.micros / 100) / 10_000,
    })),
    byGpuType: old.byGpuType
      .map((g, i) => ({ ...g, costUsd: typeUnits[i] / 10_000 }))
      .sort((a, b) => b.costUsd - a.costUsd || a.gpuType.localeCompare(b.gpuType)),
    byDay: old.byDay,
  };
}

describe("costs from the rollup", () => {
  it("match the old computation to the micro-dollar on random deployments, ranges and accruals", async () => {
    const rnd = random(20261201);
    const user = "rollup-random";
    const ids: string[] = [];
    for (let i = 0; i < 36; i++) {
      const createdAt = new Date(NOV_1 + Math.floor(rnd() * 20 * DAY));
      const shape = rnd();
      // Some never observed (a zero-length window), some ending exactly at a midnight, most a few hours to days.
      const lastObservedAt =
        shape < 0.1
          ? null
          : shape < 0.2
            ? new Date(Math.ceil(createdAt.getTime() / DAY) * DAY + Math.floor(rnd() * 2) * DAY)
            : new Date(createdAt.getTime() + Math.floor(rnd() * 3.5 * DAY));
      const { deployment } = await newDeployment(db, user, {
        status: DeploymentStatus.COMPLETED,
        gpuType: GPU_TYPES[i % GPU_TYPES.length],
        gpuCount: 1 + Math.floor(rnd() * 4),
        createdAt,
        lastObservedAt,
        actualCostMicros: rnd() < 0.08 ? 0 : randomMicros(rnd, 80_000_000),
        uptimeSeconds: Math.floor(rnd() * 200_000),
      });
      ids.push(deployment.id);
    }
    const ranges: [Date, Date][] = [
      [new Date(NOV_1 - 5 * DAY), new Date(NOV_1 + 40 * DAY)],
      [new Date(NOV_1), new Date(NOV_1 + 30 * DAY)],
      [new Date(NOV_1 + 7 * DAY), new Date(NOV_1 + 9 * DAY)],
    ];
    for (let i = 0; i < 12; i++) {
      const a = NOV_1 + Math.floor(rnd() * 24 * DAY);
      // Half the edges at a midnight, half anywhere in a day.
      const from = rnd() < 0.5 ? Math.floor(a / DAY) * DAY : a;
      const length = rnd() < 0.3 ? Math.floor(rnd() * DAY) + 1 : Math.floor(rnd() * 10 * DAY) + 1;
      const to = rnd() < 0.5 ? Math.ceil((from + length) / DAY) * DAY : from + length;
      ranges.push([new Date(from), new Date(to)]);
    }
    const compareAll = async () => {
      for (const [from, to] of ranges) {
        const got = await report(user, from, to);
        expect({ range: [from, to], ...got }).toEqual({
          range: [from, to],
          ...expected(await oracleReport(db, user, from, to)),
        });
      }
    };
    await compareAll();

    // Accruals: windows grow (moving every day's share retroactively) and costs rise, as each look at a pod does.
    for (const id of ids.filter(() => rnd() < 0.5)) {
      const d = await db.getRepository(Deployment).findOneByOrFail({ id });
      const end = (d.lastObservedAt ?? d.createdAt).getTime() + Math.floor(rnd() * 2 * DAY);
      await db.getRepository(Deployment).update(
        { id },
        {
          lastObservedAt: new Date(end),
          actualCostMicros: d.actualCostMicros + randomMicros(rnd, 20_000_000),
          uptimeSeconds: d.uptimeSeconds + 3600,
        },
      );
    }
    await compareAll();
  });

  it("lists the `first` deployments that cost most, the newer first on a tie, and counts them all", async () => {
    const user = "rollup-first";
    const at = (hours: number) => new Date(NOV_1 + 2 * DAY + hours * 3_600_000);
    const made: Record<string, string> = {};
    for (const [name, micros, hours] of [
      ["cheap", 1_000_000, 0],
      ["dear", 9_000_000, 1],
      ["tieOld", 5_000_000, 2],
      ["tieNew", 5_000_000, 3],
      ["free", 0, 4],
    ] as const) {
      made[name] = (
        await newDeployment(db, user, {
          status: DeploymentStatus.COMPLETED,
          createdAt: at(hours),
          lastObservedAt: at(hours + 0.5),
          actualCostMicros: micros,
        })
      ).deployment.id;
    }
    const from = new Date(NOV_1);
    const to = new Date(NOV_1 + 30 * DAY);
    const all = await report(user, from, to);
    expect(all.deployments.map((d) => [d.deployment.id, d.costUsd])).toEqual([
      [made.dear, 9],
      [made.tieNew, 5],
      [made.tieOld, 5],
      [made.cheap, 1],
    ]);
    // A deployment that cost nothing is neither listed nor counted.
    expect(all.deploymentCount).toBe(4);
    expect(all.totalUsd).toBe(20);

    const two = await report(user, from, to, 2);
    expect(two.deployments.map((d) => d.deployment.id)).toEqual([made.dear, made.tieNew]);
    expect(two.deploymentCount).toBe(4);
    expect((await report(user, from, to, 0)).deployments).toEqual([]);
    // Without `first`: 100, here all of them.
    const byDefault = await t.gql<Report>(
      user,
      `query($from: DateTime, $to: DateTime) { costs(from: $from, to: $to) { deployments { costUsd } } }`,
      { from: from.toISOString(), to: to.toISOString() },
    );
    expect(byDefault.data?.costs.deployments).toHaveLength(4);
    // The lists are read beside the totals: aliases with their own `first`, through a fragment, skipped or not.
    const shapes = await t.gql<{
      costs: { top: { costUsd: number }[]; one: { costUsd: number }[]; skipped?: unknown; totalUsd: number };
    }>(
      user,
      `query($from: DateTime, $to: DateTime, $n: Int, $skip: Boolean!) {
        costs(from: $from, to: $to) { totalUsd ...Lists skipped: deployments(first: 3) @skip(if: $skip) { costUsd } }
      }
      fragment Lists on CostReport { top: deployments(first: $n) { costUsd } one: deployments(first: 1) { costUsd } }`,
      { from: from.toISOString(), to: to.toISOString(), n: 2, skip: true },
    );
    expect(shapes.errors).toBeUndefined();
    expect(shapes.data?.costs).toEqual({
      totalUsd: 20,
      top: [{ costUsd: 9 }, { costUsd: 5 }],
      one: [{ costUsd: 9 }],
    });
    // A `first` out of range is that field's error; the rest of the report answers.
    const tooMany = await t.gql<{ costs: { totalUsd: number; deployments: unknown } | null }>(
      user,
      `query($from: DateTime, $to: DateTime) { costs(from: $from, to: $to) { totalUsd deployments(first: 1001) { costUsd } } }`,
      { from: from.toISOString(), to: to.toISOString() },
    );
    expect(tooMany.errors?.[0]).toMatchObject({
      path: ["costs", "deployments"],
      extensions: { code: "BAD_USER_INPUT", field: "first" },
    });
    // A range holding only the cheap one.
    const early = await report(user, from, at(0.75));
    expect(early).toMatchObject({ deploymentCount: 1, deployments: [{ deployment: { id: made.cheap } }] });
  });

  it("leaves out a run that ended exactly at the midnight the range starts", async () => {
    const user = "rollup-ended";
    const midnight = new Date(NOV_1 + 9 * DAY);
    await newDeployment(db, user, {
      status: DeploymentStatus.COMPLETED,
      createdAt: new Date(midnight.getTime() - 4 * 3_600_000),
      lastObservedAt: midnight,
      actualCostMicros: 3_000_000,
    });
    const after = await report(user, midnight, new Date(midnight.getTime() + 2 * DAY));
    expect(after).toEqual(
      expected(await oracleReport(db, user, midnight, new Date(midnight.getTime() + 2 * DAY))),
    );
    expect(after).toMatchObject({ totalUsd: 0, deploymentCount: 0, byDay: [], byGpuType: [] });
    const before = await report(user, new Date(midnight.getTime() - DAY), midnight);
    expect(before).toMatchObject({
      totalUsd: 3,
      deploymentCount: 1,
      byDay: [{ day: "2026-11-09", costUsd: 3 }],
    });
  });

  it("stays right under concurrent accruals of one user's deployments, each in its own transaction", async () => {
    const user = "rollup-concurrent";
    const start = NOV_1 + 12 * DAY;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { deployment } = await newDeployment(db, user, {
        createdAt: new Date(start + i * 3_600_000),
        lastObservedAt: new Date(start + i * 3_600_000 + 60_000),
        actualCostMicros: 10_001,
      });
      ids.push(deployment.id);
    }
    // Every window grows over the same days at once, as the supervisor's looks at each pod do.
    for (let round = 1; round <= 3; round++) {
      await Promise.all(
        ids.map((id, i) =>
          db.transaction(async (tx) => {
            await tx.query(`SELECT id FROM cloud_deployments WHERE id = $1 FOR UPDATE`, [id]);
            await tx.getRepository(Deployment).update(
              { id },
              {
                lastObservedAt: new Date(start + i * 3_600_000 + round * 0.7 * DAY),
                actualCostMicros: 10_001 + round * 1_234_567 + i,
              },
            );
          }),
        ),
      );
    }
    const from = new Date(start + 0.5 * DAY);
    const to = new Date(start + 3 * DAY);
    expect(await report(user, from, to)).toEqual(expected(await oracleReport(db, user, from, to)));
  });

  it("refuses `first` over 1,000 or below 0, naming the field", async () => {
    for (const first of [1_001, -1]) {
      const res = await t.gql<Report>("rollup-first", REPORT, { first });
      expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
    }
  });
});
