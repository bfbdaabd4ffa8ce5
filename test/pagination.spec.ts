import { DeploymentStatus } from "../src/deployments/deployment.enums";
import { GpuType } from "../src/runpod/gpu-catalogue";
import { newDeployment, newTrainingConfig } from "./support/factories";
import { startTestGateway, type GraphQLResponse, type TestGateway } from "./support/gateway";

let t: TestGateway;
const all: { id: string; createdAt: Date; status: DeploymentStatus; gpuType: GpuType }[] = [];

const PAGE = `query($first: Int, $after: String, $filter: DeploymentFilter) {
  deployments(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status gpuType createdAt } }
  }
}`;
type Page = {
  deployments: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { cursor: string; node: { id: string; status: string; gpuType: string; createdAt: string } }[];
  };
};

beforeAll(async () => {
  t = await startTestGateway();
  const db = t.gateway.db.dataSource;
  const config = await newTrainingConfig(db, "pager");
  const base = Date.parse("2026-11-01T00:00:00.000Z");
  for (let i = 0; i < 120; i++) {
    // Groups of three share a timestamp, so the id must break ties for the keyset to be exact.
    const createdAt = new Date(base + Math.floor(i / 3) * 60_000);
    const status = i % 4 === 0 ? DeploymentStatus.COMPLETED : DeploymentStatus.RUNNING;
    const gpuType = i % 5 === 0 ? GpuType.H100_SXM : GpuType.RTX_A4000;
    const { deployment } = await newDeployment(db, "pager", { createdAt, status, gpuType }, config);
    all.push({ id: deployment.id, createdAt, status, gpuType });
  }
  await newDeployment(db, "someone-else", {});
  all.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
});
afterAll(() => t.close());

async function pages(first: number, filter?: Record<string, unknown>) {
  const seen: Page["deployments"][] = [];
  let after: string | null = null;
  do {
    const res: GraphQLResponse<Page> = await t.gql<Page>("pager", PAGE, { first, after, filter });
    expect(res.errors).toBeUndefined();
    seen.push(res.data!.deployments);
    after = res.data!.deployments.pageInfo.hasNextPage ? res.data!.deployments.pageInfo.endCursor : null;
  } while (after);
  return seen;
}

describe("deployments pagination", () => {
  it("pages 120 rows as 50/50/20, newest first, with no duplicate and no gap", async () => {
    const result = await pages(50);
    expect(result.map((p) => p.edges.length)).toEqual([50, 50, 20]);
    expect(result.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
    expect(result.every((p) => p.totalCount === 120)).toBe(true);
    const ids = result.flatMap((p) => p.edges.map((e) => e.node.id));
    expect(new Set(ids).size).toBe(120);
    expect(ids).toEqual(all.map((d) => d.id));
    expect(result[0].pageInfo.endCursor).toBe(result[0].edges[49].cursor);
  });

  it("does not shift when newer rows arrive between pages", async () => {
    const first = await t.gql<Page>("pager", PAGE, { first: 10 });
    const db = t.gateway.db.dataSource;
    const extra = await newDeployment(db, "pager", { createdAt: new Date("2030-01-01T00:00:00Z") });
    const second = await t.gql<Page>("pager", PAGE, {
      first: 10,
      after: first.data!.deployments.pageInfo.endCursor,
    });
    expect(second.data!.deployments.edges.map((e) => e.node.id)).toEqual(all.slice(10, 20).map((d) => d.id));
    await db.query(`DELETE FROM cloud_deployments WHERE id = $1`, [extra.deployment.id]);
  });

  it.each([
    [
      "status",
      { status: ["COMPLETED"] },
      (d: (typeof all)[number]) => d.status === DeploymentStatus.COMPLETED,
    ],
    ["gpuType", { gpuType: ["H100_SXM"] }, (d: (typeof all)[number]) => d.gpuType === GpuType.H100_SXM],
    [
      "status and gpuType together",
      { status: ["RUNNING"], gpuType: ["H100_SXM"] },
      (d: (typeof all)[number]) => d.status === DeploymentStatus.RUNNING && d.gpuType === GpuType.H100_SXM,
    ],
    [
      "a creation window",
      { createdAfter: "2026-11-01T00:10:00.000Z", createdBefore: "2026-11-01T00:20:00.000Z" },
      (d: (typeof all)[number]) =>
        d.createdAt > new Date("2026-11-01T00:10:00.000Z") &&
        d.createdAt < new Date("2026-11-01T00:20:00.000Z"),
    ],
  ])("applies the %s filter to pages and totalCount", async (_name, filter, keep) => {
    const expected = all.filter(keep).map((d) => d.id);
    const result = await pages(7, filter);
    expect(result.flatMap((p) => p.edges.map((e) => e.node.id))).toEqual(expected);
    expect(result[0].totalCount).toBe(expected.length);
  });

  it.each([
    ["first above 100", { first: 101 }, "first"],
    ["a negative first", { first: -1 }, "first"],
    ["a cursor it did not issue", { after: "bm9wZQ" }, "after"],
  ])("refuses %s with BAD_USER_INPUT naming the argument", async (_name, variables, field) => {
    const res = await t.gql("pager", PAGE, variables);
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
  });
});
