import { DeploymentStatus } from "../src/deployments/deployment.enums";
import { GpuType } from "../src/runpod/gpu-catalogue";
import { newDeployment, newTrainingConfig } from "./support/factories";
import { startTestGateway, type GraphQLResponse, type TestGateway } from "./support/gateway";

let t: TestGateway;
const all: { id: string; createdAt: Date; status: DeploymentStatus; gpuType: GpuType }[] = [];

const PAGE = `query($first: Int, $after: String, $last: Int, $before: String, $filter: DeploymentFilter) {
  deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id status gpuType createdAt } }
  }
}`;
type PageInfo = {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
};
type Page = {
  deployments: {
    totalCount: number;
    pageInfo: PageInfo;
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
    ["last above 100", { last: 101 }, "last"],
    ["a negative last", { last: -1 }, "last"],
    ["a before cursor it did not issue", { last: 5, before: "bm9wZQ" }, "before"],
  ])("refuses %s with BAD_USER_INPUT naming the argument", async (_name, variables, field) => {
    const res = await t.gql("pager", PAGE, variables);
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
  });
});

/** Every page from the oldest backward, following startCursor while hasPreviousPage. */
async function pagesBackward(last: number, filter?: Record<string, unknown>) {
  const seen: Page["deployments"][] = [];
  let before: string | null = null;
  do {
    const res: GraphQLResponse<Page> = await t.gql<Page>("pager", PAGE, { last, before, filter });
    expect(res.errors).toBeUndefined();
    seen.push(res.data!.deployments);
    const { hasPreviousPage, startCursor } = res.data!.deployments.pageInfo;
    before = hasPreviousPage ? startCursor : null;
  } while (before);
  return seen;
}

const idsOf = (page: Page["deployments"]) => page.edges.map((e) => e.node.id);

describe("deployments pagination, backward and PageInfo (Relay cursor connections)", () => {
  it("pages backward over a filtered list through the same items as forward, in reverse page order", async () => {
    const filter = { status: ["RUNNING"] };
    const expected = all.filter((d) => d.status === DeploymentStatus.RUNNING).map((d) => d.id);
    const backward = await pagesBackward(7, filter);
    // Each page still lists newest first; the pages come oldest first.
    expect(backward.slice().reverse().flatMap(idsOf)).toEqual(expected);
    expect(backward.map((p) => p.edges.length)).toEqual([
      ...Array<number>(Math.floor(expected.length / 7)).fill(7),
      expected.length % 7,
    ]);
    expect(backward.map((p) => p.pageInfo.hasPreviousPage)).toEqual(
      backward.map((_, i) => i < backward.length - 1),
    );
    // Coming back, every page knows what lies after it.
    expect(backward.every((p) => p.pageInfo.hasNextPage === (p !== backward[0]))).toBe(true);
  });

  it("fills startCursor and endCursor from the page's edges, and tells the truth about both sides", async () => {
    const first = await t.gql<Page>("pager", PAGE, { first: 10 });
    expect(first.data!.deployments.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: first.data!.deployments.edges[0].cursor,
      endCursor: first.data!.deployments.edges[9].cursor,
    });
    const second = await t.gql<Page>("pager", PAGE, {
      first: 10,
      after: first.data!.deployments.pageInfo.endCursor,
    });
    // Relay allows false here; the gateway looks, and there are ten deployments before this page.
    expect(second.data!.deployments.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const back = await t.gql<Page>("pager", PAGE, {
      last: 10,
      before: second.data!.deployments.pageInfo.startCursor,
    });
    expect(idsOf(back.data!.deployments)).toEqual(idsOf(first.data!.deployments));
    expect(back.data!.deployments.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it("with last alone, ends the page at the oldest deployment (the default first does not apply)", async () => {
    const res = await t.gql<Page>("pager", PAGE, { last: 4 });
    expect(idsOf(res.data!.deployments)).toEqual(all.slice(-4).map((d) => d.id));
    expect(res.data!.deployments.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  it("with first and last together, takes the first `first` and then the last `last` of them, as the spec says", async () => {
    const res = await t.gql<Page>("pager", PAGE, { first: 10, last: 3 });
    expect(idsOf(res.data!.deployments)).toEqual(all.slice(7, 10).map((d) => d.id));
    expect(res.data!.deployments.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const literal = await t.gql<Page>(
      "pager",
      `{ deployments(first: 20, last: 5) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage } } }`,
    );
    expect(idsOf(literal.data!.deployments)).toEqual(all.slice(15, 20).map((d) => d.id));
  });

  it.each([
    ["first: 0", { first: 0 }, { hasNextPage: true, hasPreviousPage: false }],
    ["last: 0", { last: 0 }, { hasNextPage: false, hasPreviousPage: true }],
    [
      "first: 0 over nothing",
      { first: 0, filter: { gpuType: ["B200"] } },
      { hasNextPage: false, hasPreviousPage: false },
    ],
    [
      "last: 0 over nothing",
      { last: 0, filter: { gpuType: ["B200"] } },
      { hasNextPage: false, hasPreviousPage: false },
    ],
  ])("answers %s with no edges and the flags of the Relay algorithm", async (_name, variables, flags) => {
    const res = await t.gql<Page>("pager", PAGE, variables);
    expect(res.errors).toBeUndefined();
    expect(res.data!.deployments.edges).toEqual([]);
    expect(res.data!.deployments.pageInfo).toEqual({ ...flags, startCursor: null, endCursor: null });
  });

  it("answers first: 0 after a cursor with hasNextPage true only while deployments remain", async () => {
    const cursorOf = async (variables: Record<string, unknown>) =>
      (await t.gql<Page>("pager", PAGE, variables)).data!.deployments.edges[0].cursor;
    const oldest = await cursorOf({ last: 1 });
    const atEnd = await t.gql<Page>("pager", PAGE, { first: 0, after: oldest });
    expect(atEnd.data!.deployments.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const newest = await cursorOf({ first: 1 });
    const atStart = await t.gql<Page>("pager", PAGE, { first: 0, after: newest });
    expect(atStart.data!.deployments.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
  });
});
