import { newDeployment, newTrainingConfig } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

let t: TestGateway;
let configId: string;
let deploymentId: string;
let jobId: string;
const ABSENT = "00000000-0000-4000-8000-000000000000";

beforeAll(async () => {
  t = await startTestGateway();
  const db = t.gateway.db.dataSource;
  const config = await newTrainingConfig(db, "alice", { name: "alice's config" });
  configId = config.id;
  const rows = await newDeployment(db, "alice", {}, config);
  deploymentId = rows.deployment.id;
  jobId = rows.job.id;
  await t.gql(
    "alice",
    `mutation { setProviderSecret(input: { provider: RUNPOD, apiKey: "rpa_alice_secret_key_0001" }) { last4 } }`,
  );
});
afterAll(() => t.close());

/** What bob sees for alice's object must be exactly what he sees for an id that does not exist. */
async function expectNotFoundLikeAbsent(query: string, id: string) {
  const foreign = await t.gql("bob", query, { id });
  const absent = await t.gql("bob", query, { id: ABSENT });
  expect(foreign.errors?.[0].extensions?.code).toBe("NOT_FOUND");
  expect(foreign.errors?.[0].message).toBe(absent.errors?.[0].message);
  expect(JSON.stringify(foreign)).not.toContain("alice");
  return foreign;
}

describe("tenancy: another user's objects do not exist for bob", () => {
  it("trainingConfig", async () => {
    const res = await expectNotFoundLikeAbsent(
      `query($id: ID!) { trainingConfig(id: $id) { id name } }`,
      configId,
    );
    expect(res.data?.trainingConfig).toBeNull();
  });

  it("updateTrainingConfig leaves alice's config as it was", async () => {
    await expectNotFoundLikeAbsent(
      `mutation($id: ID!) { updateTrainingConfig(id: $id, input: { name: "pwned", modelName: "gpt2", datasetUrl: "https://x.io/d.json" }) { id } }`,
      configId,
    );
    const mine = await t.gql<{ trainingConfig: { name: string } }>(
      "alice",
      `query($id: ID!) { trainingConfig(id: $id) { name } }`,
      {
        id: configId,
      },
    );
    expect(mine.data?.trainingConfig.name).toBe("alice's config");
  });

  it("deleteTrainingConfig deletes nothing", async () => {
    await expectNotFoundLikeAbsent(`mutation($id: ID!) { deleteTrainingConfig(id: $id) }`, configId);
    const mine = await t.gql("alice", `query($id: ID!) { trainingConfig(id: $id) { id } }`, { id: configId });
    expect(mine.errors).toBeUndefined();
  });

  it("deployment", async () => {
    await expectNotFoundLikeAbsent(`query($id: ID!) { deployment(id: $id) { id } }`, deploymentId);
  });

  it("trainingJob", async () => {
    await expectNotFoundLikeAbsent(`query($id: ID!) { trainingJob(id: $id) { id metrics { step } } }`, jobId);
  });

  it("a malformed id is NOT_FOUND, not a database error", async () => {
    const res = await t.gql("bob", `query($id: ID!) { deployment(id: $id) { id } }`, {
      id: "'; drop table users; --",
    });
    expect(res.errors?.[0].extensions?.code).toBe("NOT_FOUND");
  });

  it("lists show only the caller's rows", async () => {
    const query = `{ me { id } trainingConfigs { id } providerSecrets { provider } deployments { totalCount edges { node { id } } } }`;
    const bob = await t.gql<{
      me: { id: string };
      trainingConfigs: unknown[];
      providerSecrets: unknown[];
      deployments: { totalCount: number; edges: unknown[] };
    }>("bob", query);
    expect(bob.data).toEqual({
      me: { id: "bob" },
      trainingConfigs: [],
      providerSecrets: [],
      deployments: { totalCount: 0, edges: [] },
    });
    const alice = await t.gql<{ trainingConfigs: { id: string }[]; deployments: { totalCount: number } }>(
      "alice",
      query,
    );
    expect(alice.data?.trainingConfigs).toEqual([{ id: configId }]);
    expect(alice.data?.deployments.totalCount).toBe(1);
  });

  it("deleteProviderSecret only ever touches the caller's key", async () => {
    const res = await t.gql<{ deleteProviderSecret: boolean }>(
      "bob",
      `mutation { deleteProviderSecret(provider: RUNPOD) }`,
    );
    expect(res.data?.deleteProviderSecret).toBe(false);
    const alice = await t.gql<{ providerSecrets: { last4: string }[] }>(
      "alice",
      `{ providerSecrets { last4 } }`,
    );
    expect(alice.data?.providerSecrets).toEqual([{ last4: "0001" }]);
  });

  it("alice sees her deployment with its job and the config it was deployed with", async () => {
    const res = await t.gql<{ deployment: Record<string, unknown> }>(
      "alice",
      `query($id: ID!) { deployment(id: $id) { id status gpuType budgetLimitUsd actualCostUsd budgetUsedPercent costPerHourUsd
        trainingConfig { id name } job { id status deployment { id } } } }`,
      { id: deploymentId },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.deployment).toEqual({
      id: deploymentId,
      status: "RUNNING",
      gpuType: "RTX_A4000",
      budgetLimitUsd: 5,
      actualCostUsd: 0,
      budgetUsedPercent: 0,
      costPerHourUsd: 0.17,
      trainingConfig: { id: configId, name: "alice's config" },
      job: { id: jobId, status: "RUNNING", deployment: { id: deploymentId } },
    });
  });
});
