import { startSimulatedGateway, type SimulatedSetup } from "./support/simulated";

let s: SimulatedSetup;
beforeAll(async () => {
  s = await startSimulatedGateway();
});
afterAll(() => s.close());

const count = async (table: string, user: string) =>
  (
    await s.t.gateway.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`,
      [user],
    )
  )[0].n;

describe("a NUL character in any input string", () => {
  it.each<[string, string, Record<string, unknown>, string]>([
    [
      "a training config's name",
      `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
      { name: "sft\u0000x", modelName: "Qwen/Qwen3-0.6B", datasetUrl: "https://example.com/d.jsonl" },
      "input.name",
    ],
    [
      "a hyperparameter's target module",
      `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
      {
        name: "sft",
        modelName: "Qwen/Qwen3-0.6B",
        datasetUrl: "https://example.com/d.jsonl",
        hyperparameters: { targetModules: ["q_proj", "v\u0000"] },
      },
      "input.hyperparameters.targetModules",
    ],
    [
      "a provider key's description",
      `mutation($input: ProviderSecretInput!) { setProviderSecret(input: $input) { last4 } }`,
      { provider: "RUNPOD", apiKey: "rpa_0123456789abcdef0123456789", description: "team\u0000key" },
      "input.description",
    ],
  ])(
    "is refused in %s as BAD_USER_INPUT naming the field, and nothing is stored",
    async (_what, query, input, field) => {
      const res = await s.t.gql("nul-user", query, { input });
      expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect(res.errors?.[0].extensions?.field).toBe(field);
      expect(res.errors?.[0].message).toMatch(/NUL/);
      expect(await count("training_configs", "nul-user")).toBe(0);
      expect(await count("provider_secrets", "nul-user")).toBe(0);
    },
  );

  it("is refused in a deploy's idempotencyKey, and no deployment is created", async () => {
    await s.withRunpodKey("nul-deployer");
    const configId = await s.newConfig("nul-deployer");
    const res = await s.t.gql(
      "nul-deployer",
      `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id } }`,
      { input: { trainingConfigId: configId, idempotencyKey: "order\u000042" } },
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0].extensions?.field).toBe("input.idempotencyKey");
    expect(await count("cloud_deployments", "nul-deployer")).toBe(0);
  });
});
