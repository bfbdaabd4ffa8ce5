import { LOCAL_MODEL_IDS } from "../src/config/local-models";
import { startTestGateway, type TestGateway } from "./support/gateway";

/**
 * A gateway whose pods are RunPod's (no built-in simulator), started with RUNPOD_SIMULATOR_TRAINER=real, which
 * only the built-in simulator honours: it warns once at start-up, and a local model of the simulator, which no
 * RunPod pod can load, is refused.
 */
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ env: { RUNPOD_SIMULATOR_TRAINER: "real" } });
});
afterAll(() => t.close());

const CREATE = `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id modelName } }`;
const UPDATE = `mutation($id: ID!, $input: TrainingConfigInput!) {
  updateTrainingConfig(id: $id, input: $input) { id modelName } }`;
const valid = { name: "c", modelName: "meta-llama/Llama-3.2-1B", datasetUrl: "https://example.com/d.jsonl" };
const LOCAL = LOCAL_MODEL_IDS[0];

async function storedConfigs(user: string): Promise<unknown[]> {
  return t.gateway.db.dataSource.query(
    `SELECT id, model_name, updated_at FROM training_configs WHERE user_id = $1 ORDER BY id`,
    [user],
  );
}

describe("RUNPOD_SIMULATOR_TRAINER=real without RUNPOD_SIMULATOR=true", () => {
  it("is warned about once at start-up, as ignored", () => {
    const warnings = t.logs.lines.filter((line) => line.includes("RUNPOD_SIMULATOR_TRAINER=real is ignored"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0])).toMatchObject({ level: 40 });
    expect(t.gateway.config.localModels).toBeNull();
  });
});

describe("a local model of the simulator, with RunPod's pods", () => {
  it.each([LOCAL, LOCAL.toUpperCase()])(
    "is refused by createTrainingConfig as %j, naming modelName, storing nothing",
    async (modelName) => {
      const res = await t.gql(`lm-create`, CREATE, { input: { ...valid, modelName } });
      expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.modelName" });
      expect(res.errors?.[0].message).toBe(
        `input.modelName: ${modelName} is a local model of the RunPod simulator: only its local pods ` +
          "(RUNPOD_SIMULATOR=true with RUNPOD_SIMULATOR_TRAINER=real) can train it; name a model on the Hugging Face Hub",
      );
      expect(await storedConfigs("lm-create")).toEqual([]);
    },
  );

  it("is refused by updateTrainingConfig, leaving the config as it was", async () => {
    const created = await t.gql<{ createTrainingConfig: { id: string } }>("lm-update", CREATE, {
      input: valid,
    });
    expect(created.errors).toBeUndefined();
    const id = created.data!.createTrainingConfig.id;
    const before = await storedConfigs("lm-update");
    const res = await t.gql("lm-update", UPDATE, { id, input: { ...valid, modelName: LOCAL } });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.modelName" });
    expect(await storedConfigs("lm-update")).toEqual(before);
  });

  it("is not mistaken for a Hub model of the same owner", async () => {
    const res = await t.gql("lm-other", CREATE, {
      input: { ...valid, modelName: "traingate/another-model" },
    });
    expect(res.errors).toBeUndefined();
  });
});
