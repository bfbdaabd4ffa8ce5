import { startTestGateway, type TestGateway } from "./support/gateway";

/**
 * A gateway on the real RunPod API (no simulator) whose PUBLIC_URL is this machine: no pod could ever call
 * back, so deploys are refused before anything is stored or created. RunPod itself is never reached here.
 */
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({
    env: {
      RUNPOD_API_SIMULATED: "false",
      RUNPOD_API_URL: "http://127.0.0.1:1/graphql",
      PUBLIC_URL: "http://localhost:4000",
    },
  });
});
afterAll(() => t.close());

describe("a PUBLIC_URL no pod can reach, with the real RunPod", () => {
  it("is warned about at start-up", () => {
    expect(t.logs.text).toMatch(
      /PUBLIC_URL http:\/\/localhost:4000 cannot be reached from a pod: its host localhost is this machine/,
    );
  });

  it("refuses deployTraining with INVALID_STATE, storing nothing", async () => {
    const created = await t.gql<{ createTrainingConfig: { id: string } }>(
      "cb-user",
      `mutation { createTrainingConfig(input: { name: "c", modelName: "gpt2", datasetUrl: "https://example.com/d.jsonl" }) { id } }`,
    );
    const res = await t.gql(
      "cb-user",
      `mutation($id: ID!) { deployTraining(input: { trainingConfigId: $id }) { id } }`,
      {
        id: created.data!.createTrainingConfig.id,
      },
    );
    expect(res.errors?.[0].extensions?.code).toBe("INVALID_STATE");
    expect(res.errors?.[0].message).toBe(
      "no pod could report back to this gateway: PUBLIC_URL http://localhost:4000 cannot be reached from a pod: " +
        "its host localhost is this machine; set PUBLIC_URL to an address the pod can reach",
    );
    const [{ n }] = await t.gateway.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM cloud_deployments WHERE user_id = 'cb-user'`,
    );
    expect(n).toBe(0);
  });
});
