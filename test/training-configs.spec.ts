import { startTestGateway, type TestGateway } from "./support/gateway";

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

const CREATE = `mutation($input: TrainingConfigInput!) {
  createTrainingConfig(input: $input) {
    id name modelName datasetUrl method createdAt updatedAt
    hyperparameters { epochs batchSize gradientAccumulationSteps learningRate maxSeqLength warmupRatio loggingSteps
      saveSteps loraR loraAlpha loraDropout targetModules quantization gradientCheckpointing evalSplit }
  }
}`;
const UPDATE = `mutation($id: ID!, $input: TrainingConfigInput!) {
  updateTrainingConfig(id: $id, input: $input) { id name method hyperparameters { epochs quantization } }
}`;

const valid = {
  name: "sft",
  modelName: "meta-llama/Llama-3.2-1B",
  datasetUrl: "https://example.com/train.jsonl",
};

async function countConfigs(user: string): Promise<number> {
  const rows = await t.gateway.db.dataSource.query<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM training_configs WHERE user_id = $1`,
    [user],
  );
  return rows[0].n;
}

describe("training configs", () => {
  it("fills every default in", async () => {
    const res = await t.gql<{ createTrainingConfig: Record<string, unknown> }>("cfg-a", CREATE, {
      input: valid,
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.createTrainingConfig).toMatchObject({
      name: "sft",
      modelName: "meta-llama/Llama-3.2-1B",
      method: "LORA",
      hyperparameters: {
        epochs: 1,
        batchSize: 4,
        gradientAccumulationSteps: 1,
        learningRate: 0.0002,
        maxSeqLength: 2048,
        warmupRatio: 0.03,
        loggingSteps: 10,
        saveSteps: 200,
        loraR: 16,
        loraAlpha: 32,
        loraDropout: 0.05,
        targetModules: null,
        quantization: "NONE",
        gradientCheckpointing: true,
        evalSplit: 0,
      },
    });
  });

  it("treats an explicit null like an omitted field, and QLORA as 4-bit unless told otherwise", async () => {
    const res = await t.gql<{
      createTrainingConfig: { method: string; hyperparameters: Record<string, unknown> };
    }>("cfg-a", CREATE, {
      input: {
        ...valid,
        method: "QLORA",
        hyperparameters: { epochs: null, targetModules: ["q_proj", "v_proj"] },
      },
    });
    expect(res.data?.createTrainingConfig.hyperparameters).toMatchObject({
      epochs: 1,
      quantization: "INT4",
      targetModules: ["q_proj", "v_proj"],
    });
  });

  it("lists, updates and deletes the caller's configs", async () => {
    const created = await t.gql<{ createTrainingConfig: { id: string } }>("cfg-b", CREATE, { input: valid });
    const id = created.data!.createTrainingConfig.id;
    const updated = await t.gql<{
      updateTrainingConfig: { name: string; hyperparameters: { epochs: number } };
    }>("cfg-b", UPDATE, { id, input: { ...valid, name: "renamed", hyperparameters: { epochs: 3 } } });
    expect(updated.data?.updateTrainingConfig).toMatchObject({
      name: "renamed",
      hyperparameters: { epochs: 3 },
    });
    const list = await t.gql<{ trainingConfigs: { id: string; name: string }[] }>(
      "cfg-b",
      `{ trainingConfigs { id name } }`,
    );
    expect(list.data?.trainingConfigs).toEqual([{ id, name: "renamed" }]);
    const deleted = await t.gql<{ deleteTrainingConfig: boolean }>(
      "cfg-b",
      `mutation($id: ID!) { deleteTrainingConfig(id: $id) }`,
      {
        id,
      },
    );
    expect(deleted.data?.deleteTrainingConfig).toBe(true);
    expect(await countConfigs("cfg-b")).toBe(0);
  });

  const hp = (h: Record<string, unknown>) => ({ ...valid, hyperparameters: h });
  it.each<[string, Record<string, unknown>, string]>([
    ["an empty name", { ...valid, name: "" }, "input.name"],
    ["a blank name", { ...valid, name: "   " }, "input.name"],
    ["a name over 200 characters", { ...valid, name: "n".repeat(201) }, "input.name"],
    ["a model id with spaces", { ...valid, modelName: "meta llama" }, "input.modelName"],
    ["a model id with three parts", { ...valid, modelName: "a/b/c" }, "input.modelName"],
    ["a model id with '--'", { ...valid, modelName: "org/a--b" }, "input.modelName"],
    ["an http dataset URL", { ...valid, datasetUrl: "http://example.com/d.jsonl" }, "input.datasetUrl"],
    ["a dataset path", { ...valid, datasetUrl: "/etc/passwd" }, "input.datasetUrl"],
    ["a Hub URL without datasets/", { ...valid, datasetUrl: "hf://tatsu-lab/alpaca" }, "input.datasetUrl"],
    [
      "a Hub dataset URL that climbs out",
      { ...valid, datasetUrl: "hf://datasets/tatsu-lab/alpaca/../x" },
      "input.datasetUrl",
    ],
    ["zero epochs", hp({ epochs: 0 }), "input.hyperparameters.epochs"],
    ["a batch size of 0", hp({ batchSize: 0 }), "input.hyperparameters.batchSize"],
    [
      "0 accumulation steps",
      hp({ gradientAccumulationSteps: 0 }),
      "input.hyperparameters.gradientAccumulationSteps",
    ],
    ["a zero learning rate", hp({ learningRate: 0 }), "input.hyperparameters.learningRate"],
    ["a learning rate above 1", hp({ learningRate: 2 }), "input.hyperparameters.learningRate"],
    ["a tiny max sequence length", hp({ maxSeqLength: 8 }), "input.hyperparameters.maxSeqLength"],
    ["a warm-up ratio of 0.9", hp({ warmupRatio: 0.9 }), "input.hyperparameters.warmupRatio"],
    ["0 logging steps", hp({ loggingSteps: 0 }), "input.hyperparameters.loggingSteps"],
    ["0 save steps", hp({ saveSteps: 0 }), "input.hyperparameters.saveSteps"],
    ["a LoRA rank of 0", hp({ loraR: 0 }), "input.hyperparameters.loraR"],
    ["a LoRA alpha of 0", hp({ loraAlpha: 0 }), "input.hyperparameters.loraAlpha"],
    ["a LoRA dropout of 1", hp({ loraDropout: 1 }), "input.hyperparameters.loraDropout"],
    ["an empty target module list", hp({ targetModules: [] }), "input.hyperparameters.targetModules"],
    [
      "a target module with a space",
      hp({ targetModules: ["q proj"] }),
      "input.hyperparameters.targetModules",
    ],
    ["an eval split of 0.9", hp({ evalSplit: 0.9 }), "input.hyperparameters.evalSplit"],
    [
      "a quantized FULL fine-tune",
      { ...valid, method: "FULL", hyperparameters: { quantization: "INT4" } },
      "input.hyperparameters.quantization",
    ],
  ])("refuses %s with BAD_USER_INPUT naming the field, and writes nothing", async (_case, input, field) => {
    const before = await countConfigs("cfg-invalid");
    const res = await t.gql("cfg-invalid", CREATE, { input });
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0].extensions?.field).toBe(field);
    expect(res.errors?.[0].message).toContain(field);
    expect(await countConfigs("cfg-invalid")).toBe(before);
  });

  it("accepts a Hugging Face dataset as hf://datasets/<owner>/<name>[/<file>][@<revision>], on create and update", async () => {
    const hub = "hf://datasets/tatsu-lab/alpaca/data/train-00000-of-00001.parquet@main";
    const created = await t.gql<{ createTrainingConfig: { id: string; datasetUrl: string } }>(
      "cfg-hub",
      CREATE,
      {
        input: { ...valid, datasetUrl: "hf://datasets/tatsu-lab/alpaca" },
      },
    );
    expect(created.errors).toBeUndefined();
    expect(created.data?.createTrainingConfig.datasetUrl).toBe("hf://datasets/tatsu-lab/alpaca");
    const id = created.data!.createTrainingConfig.id;
    const updated = await t.gql<{ updateTrainingConfig: { id: string } }>("cfg-hub", UPDATE, {
      id,
      input: { ...valid, datasetUrl: hub },
    });
    expect(updated.errors).toBeUndefined();
    const read = await t.gql<{ trainingConfig: { datasetUrl: string } }>(
      "cfg-hub",
      `query($id: ID!) { trainingConfig(id: $id) { datasetUrl } }`,
      { id },
    );
    expect(read.data?.trainingConfig.datasetUrl).toBe(hub);

    const refused = await t.gql("cfg-hub", UPDATE, {
      id,
      input: { ...valid, datasetUrl: "hf://tatsu-lab/alpaca" },
    });
    expect(refused.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.datasetUrl",
    });
    expect(refused.errors?.[0].message).toContain("hf://datasets/tatsu-lab/alpaca");
    const after = await t.gql<{ trainingConfig: { datasetUrl: string } }>(
      "cfg-hub",
      `query($id: ID!) { trainingConfig(id: $id) { datasetUrl } }`,
      { id },
    );
    expect(after.data?.trainingConfig.datasetUrl).toBe(hub);
  });

  it("refuses an unknown enum value as BAD_USER_INPUT", async () => {
    const res = await t.gql("cfg-invalid", CREATE, { input: { ...valid, method: "PRETRAIN" } });
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0].message).toContain("method");
  });

  it("leaves a config unchanged when an update is invalid", async () => {
    const created = await t.gql<{ createTrainingConfig: { id: string } }>("cfg-c", CREATE, { input: valid });
    const id = created.data!.createTrainingConfig.id;
    const res = await t.gql("cfg-c", UPDATE, {
      id,
      input: { ...valid, name: "changed", hyperparameters: { loraR: -1 } },
    });
    expect(res.errors?.[0].extensions?.field).toBe("input.hyperparameters.loraR");
    const after = await t.gql<{ trainingConfig: { name: string } }>(
      "cfg-c",
      `query($id: ID!) { trainingConfig(id: $id) { name } }`,
      {
        id,
      },
    );
    expect(after.data?.trainingConfig.name).toBe("sft");
  });
});
