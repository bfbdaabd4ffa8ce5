import "reflect-metadata";
import fc from "fast-check";
import { GpuType } from "../src/runpod/gpu-catalogue";
import { MODEL_ID_PATTERN } from "../src/training-configs/training-config.types";
import type { GraphQLResponse } from "./support/gateway";
import { startSimulatedGateway, type SimulatedSetup } from "./support/simulated";

/**
 * Property-based tests of every mutation's input validation, over GraphQL against a real gateway with the
 * RunPod simulator upstream: whatever the variables, the answer is never a 5xx nor INTERNAL_SERVER_ERROR, a
 * BAD_USER_INPUT names the field, and a refused mutation stores nothing.
 */

let s: SimulatedSetup;
/** The deploy fuzzer's config and a deployment of it, and a config of another user. */
let deployConfigId: string;
let deploymentId: string;
let foreignConfigId: string;
beforeAll(async () => {
  s = await startSimulatedGateway();
  await s.withRunpodKey("fz-deploy");
  deployConfigId = await s.newConfig("fz-deploy");
  const res = await s.t.gql<{ deployTraining: { id: string } }>("fz-deploy", DEPLOY, {
    input: { trainingConfigId: deployConfigId },
  });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  deploymentId = res.data.deployTraining.id;
  foreignConfigId = await s.newConfig("fz-other");
});
afterAll(() => s.close());

const CREATE_CONFIG = `mutation($input: TrainingConfigInput!) {
  createTrainingConfig(input: $input) { id name modelName datasetUrl method hyperparameters { epochs learningRate targetModules quantization } }
}`;
const UPDATE_CONFIG = `mutation($id: ID!, $input: TrainingConfigInput!) { updateTrainingConfig(id: $id, input: $input) { id } }`;
const DELETE_CONFIG = `mutation($id: ID!) { deleteTrainingConfig(id: $id) }`;
const SET_SECRET = `mutation($input: ProviderSecretInput!) { setProviderSecret(input: $input) { provider last4 } }`;
const DELETE_SECRET = `mutation($provider: Provider!) { deleteProviderSecret(provider: $provider) }`;
const DEPLOY = `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id status gpuCount budgetLimitUsd } }`;
const STOP = `mutation($id: ID!) { stopDeployment(id: $id) { id status } }`;
const REFRESH = `mutation($id: ID!) { refreshDeployment(id: $id) { id status } }`;

// ---- values ----------------------------------------------------------------------------------------------

/** A long string, cheaply: a short random one repeated. */
const longString = fc
  .tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 3 }), fc.integer({ min: 200, max: 40_000 }))
  .map(([unit, times]) => unit.repeat(times));

const evilString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udc00",
    "\u{1F600}",
    "\u202e\u200b",
    "'; DROP TABLE users; --",
    "%00",
    "../../etc/passwd",
    "00000000-0000-4000-8000-000000000000",
    "null",
  ),
  longString,
);

/** Numbers an Int or Float field should refuse or bound: huge, negative, fractional, tiny, -0. */
const evilNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    1.5,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53,
    1e20,
    1e308,
    -1e308,
    5e-324,
    -5e-324,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Anything JSON can carry, for a field of another type. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), {
    maxKeys: 4,
  }),
);

/**
 * Mostly a valid value, sometimes a bad one of the field's own type, sometimes one of any type: with a dozen
 * fields, about one input in four is valid throughout, so the properties reach the services too.
 */
function field<T>(valid: fc.Arbitrary<T>, evil: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: valid, weight: 24 },
    { arbitrary: evil, weight: 2 },
    { arbitrary: wrongType, weight: 1 },
  );
}

const int = (min: number, max: number) => field(fc.integer({ min, max }), evilNumber);
const float = (min: number, max: number) => field(fc.double({ min, max, noNaN: true }), evilNumber);
const enumOf = (...names: string[]) =>
  field(
    fc.constantFrom(...names),
    fc.oneof(evilString, fc.constantFrom(...names.map((n) => n.toLowerCase()), ...names.map((n) => `${n} `))),
  );

/** An input object: each key present or not, sometimes an unknown key, sometimes not an object at all. */
function input(fields: Record<string, fc.Arbitrary<unknown>>, required: string[]): fc.Arbitrary<unknown> {
  const record = fc.record(fields, {
    requiredKeys: required.filter((key) => key in fields) as never[],
  });
  return fc.oneof(
    { arbitrary: record, weight: 30 },
    {
      arbitrary: fc
        .tuple(record, fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }))
        .map(([value, key, extra]) => ({ ...(value as object), [key]: extra })),
      weight: 1,
    },
    {
      // A required key left out.
      arbitrary: fc
        .tuple(record, fc.constantFrom(...(required.length > 0 ? required : ["none"])))
        .map(([value, key]) =>
          Object.fromEntries(Object.entries(value as object).filter(([k]) => k !== key)),
        ),
      weight: 1,
    },
    { arbitrary: wrongType, weight: 1 },
  );
}

const hyperparameters = input(
  {
    epochs: int(1, 100),
    batchSize: int(1, 1024),
    gradientAccumulationSteps: int(1, 1024),
    learningRate: float(1e-9, 1),
    maxSeqLength: int(16, 131072),
    warmupRatio: float(0, 0.5),
    loggingSteps: int(1, 100000),
    saveSteps: int(1, 1000000),
    loraR: int(1, 1024),
    loraAlpha: int(1, 4096),
    loraDropout: float(0, 0.9),
    targetModules: field(
      fc.option(
        fc.array(fc.stringMatching(/^[A-Za-z0-9_.]{1,20}$/), {
          minLength: 1,
          maxLength: 5,
        }),
      ),
      fc.oneof(
        fc.constant([]),
        fc.array(evilString, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 65, max: 80 }).map((n) => Array.from({ length: n }, (_, i) => `m${i}`)),
        fc.array(fc.array(fc.string(), { maxLength: 2 }), {
          minLength: 1,
          maxLength: 2,
        }),
      ),
    ),
    quantization: enumOf("NONE", "INT8", "INT4"),
    gradientCheckpointing: field(fc.boolean(), fc.constantFrom("true", 1, 0)),
    evalSplit: float(0, 0.5),
  },
  [],
);

const trainingConfigInput = input(
  {
    name: field(
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }).filter((n) => /\S/.test(n)),
      evilString,
    ),
    modelName: field(
      fc.oneof(
        // The simulator's local model is refused here: this gateway's pods load from the Hub.
        fc.constantFrom("Qwen/Qwen3-0.6B", "gpt2", "meta-llama/Llama-3.2-1B", "traingate/tiny-random-llama"),
        fc.stringMatching(MODEL_ID_PATTERN),
      ),
      evilString,
    ),
    datasetUrl: field(
      fc.oneof(
        fc.constantFrom(
          "https://example.com/d.jsonl",
          "hf://datasets/tatsu-lab/alpaca",
          "hf://datasets/o/n/f.parquet@main",
        ),
        fc.webUrl({
          validSchemes: ["https"],
          withQueryParameters: true,
          withFragments: true,
        }),
      ),
      fc.oneof(
        evilString,
        fc.constantFrom("http://example.com/d.jsonl", "hf://datasets/../x", "javascript:alert(1)"),
      ),
    ),
    method: enumOf("LORA", "QLORA", "FULL"),
    hyperparameters: fc.oneof(
      { arbitrary: hyperparameters, weight: 4 },
      { arbitrary: fc.constant(null), weight: 1 },
    ),
  },
  ["name", "modelName", "datasetUrl"],
);

const providerSecretInput = input(
  {
    provider: enumOf("RUNPOD", "HUGGINGFACE"),
    apiKey: field(fc.stringMatching(/^[\x21-\x7e]{8,64}$/), evilString),
    description: field(fc.option(fc.string({ unit: "grapheme", maxLength: 100 })), evilString),
  },
  ["provider", "apiKey"],
);

const gpuTypeName = fc.constantFrom(...Object.values(GpuType));
const envVar = input(
  {
    name: field(
      fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/),
      fc.oneof(evilString, fc.constantFrom("JOB_TOKEN", "RUNPOD_X", "HF_TOKEN")),
    ),
    value: field(fc.string({ unit: "grapheme", maxLength: 40 }), evilString),
  },
  ["name", "value"],
);

/** How a test refers to a row: its own, in another case, another user's, or any value at all. */
type IdChoice =
  { kind: "own" } | { kind: "ownUpper" } | { kind: "foreign" } | { kind: "value"; value: unknown };
const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { arbitrary: fc.constant({ kind: "own" as const }), weight: 4 },
  { arbitrary: fc.constant({ kind: "ownUpper" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "foreign" as const }), weight: 1 },
  {
    arbitrary: fc
      .oneof(evilString, evilNumber, wrongType, fc.uuid())
      .map((value) => ({ kind: "value" as const, value })),
    weight: 3,
  },
);
function resolveId(choice: IdChoice, own: string, foreign: string): unknown {
  switch (choice.kind) {
    case "own":
      return own;
    case "ownUpper":
      return own.toUpperCase();
    case "foreign":
      return foreign;
    case "value":
      return choice.value;
  }
}

const deployTrainingInput = fc.tuple(
  idChoice,
  input(
    {
      gpuType: enumOf(...Object.values(GpuType)),
      fallbackGpuTypes: field(
        fc.array(gpuTypeName, { maxLength: 4 }),
        fc.oneof(
          fc.array(gpuTypeName, { minLength: 11, maxLength: 14 }),
          fc.array(evilString, { maxLength: 2 }),
        ),
      ),
      gpuCount: int(1, 8),
      cloudType: enumOf("SECURE", "COMMUNITY"),
      budgetLimitUsd: float(1, 50),
      maxPricePerHourUsd: field(fc.option(fc.double({ min: 0.01, max: 50, noNaN: true })), evilNumber),
      maxDurationMinutes: field(fc.option(fc.integer({ min: 1, max: 43200 })), evilNumber),
      dockerImage: field(
        fc.option(
          fc.constantFrom(
            "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
            "ghcr.io/acme/trainer:1",
          ),
        ),
        evilString,
      ),
      volumeSizeGb: int(20, 200),
      containerDiskGb: int(20, 200),
      env: field(
        fc.array(envVar, { maxLength: 3 }),
        fc.oneof(fc.array(envVar, { minLength: 45, maxLength: 55 }), wrongType),
      ),
      idempotencyKey: field(fc.option(fc.string({ minLength: 1, maxLength: 40 })), evilString),
      output: field(
        fc.option(
          input(
            {
              hubRepoId: field(fc.option(fc.constantFrom("acme/adapter")), evilString),
              hubPrivate: field(fc.boolean(), wrongType),
              networkVolumeId: field(fc.option(fc.stringMatching(/^[a-z0-9]{1,12}$/)), evilString),
              // false with neither hubRepoId nor networkVolumeId is refused unless onComplete is STOP.
              gateway: field(fc.boolean(), wrongType),
              onComplete: enumOf("TERMINATE", "STOP"),
            },
            [],
          ),
        ),
        wrongType,
      ),
    },
    [],
  ),
);

// ---- checks ----------------------------------------------------------------------------------------------

/** What a mutation may store for `user`: every row it owns in the four tables, as the database holds them. */
async function stored(user: string): Promise<unknown> {
  const db = s.t.gateway.db.dataSource;
  const rows = (sql: string) => db.query<unknown[]>(sql, [user]);
  return {
    configs: await rows(`SELECT * FROM training_configs WHERE user_id = $1 ORDER BY id`),
    secrets: await rows(`SELECT * FROM provider_secrets WHERE user_id = $1 ORDER BY id`),
    deployments: await rows(
      `SELECT id, status, stop_reason FROM cloud_deployments WHERE user_id = $1 ORDER BY id`,
    ),
    jobs: await rows(`SELECT id, status FROM training_jobs WHERE user_id = $1 ORDER BY id`),
  };
}

/** graphql-js names a bad variable's path (`at "input.hyperparameters.epochs"`) or the variable itself. */
const NAMES_A_FIELD = /Variable "\$\w+"|at "[\w.[\]]+"|Field "\w+"/;

/** Never a 5xx, never INTERNAL_SERVER_ERROR, every error coded, every BAD_USER_INPUT naming its field. */
function expectSafeAnswer(res: GraphQLResponse<unknown>): void {
  expect(res.status).toBeLessThan(500);
  for (const error of res.errors ?? []) {
    const code = error.extensions?.code;
    expect(code).toEqual(expect.any(String));
    expect(code).not.toBe("INTERNAL_SERVER_ERROR");
    if (code === "BAD_USER_INPUT") {
      const field = error.extensions?.field;
      const named = (typeof field === "string" && field.length > 0) || NAMES_A_FIELD.test(error.message);
      expect({ message: error.message, named }).toEqual({
        message: error.message,
        named: true,
      });
    }
  }
}

/** Runs one mutation as `user`; when it answers an error, nothing `user` owns may have changed. */
async function mutate(
  user: string,
  query: string,
  variables: Record<string, unknown>,
  {
    storesNothingOnError = () => true,
  }: { storesNothingOnError?: (res: GraphQLResponse<Record<string, unknown>>) => boolean } = {},
): Promise<GraphQLResponse<Record<string, unknown>>> {
  const before = await stored(user);
  const res = await s.t.gql(user, query, variables);
  expectSafeAnswer(res);
  if (res.errors && storesNothingOnError(res)) expect(await stored(user)).toEqual(before);
  return res;
}

// ---- properties ------------------------------------------------------------------------------------------

describe("mutations, fuzzed over GraphQL", () => {
  it("createTrainingConfig", async () => {
    await fc.assert(
      fc.asyncProperty(trainingConfigInput, async (value) => {
        await mutate("fz-config", CREATE_CONFIG, { input: value });
      }),
      { numRuns: 150 },
    );
  });

  it("updateTrainingConfig", async () => {
    const own = await s.newConfig("fz-config");
    await fc.assert(
      fc.asyncProperty(idChoice, trainingConfigInput, async (id, value) => {
        await mutate("fz-config", UPDATE_CONFIG, {
          id: resolveId(id, own, foreignConfigId),
          input: value,
        });
      }),
      { numRuns: 100 },
    );
  });

  it("deleteTrainingConfig", async () => {
    await fc.assert(
      fc.asyncProperty(idChoice, async (id) => {
        const own = await s.newConfig("fz-config-delete");
        await mutate("fz-config-delete", DELETE_CONFIG, {
          id: resolveId(id, own, foreignConfigId),
        });
      }),
      { numRuns: 60 },
    );
  });

  it("setProviderSecret", async () => {
    await fc.assert(
      fc.asyncProperty(providerSecretInput, async (value) => {
        const res = await mutate("fz-secret", SET_SECRET, { input: value });
        // The key never comes back, not even in part, when the input is refused for another field.
        const apiKey = (value as { apiKey?: unknown } | null)?.apiKey;
        if (typeof apiKey === "string" && apiKey.length >= 8) {
          const pieces = [apiKey, ...apiKey.split(";").slice(1)].filter(
            // Letters alone could be a field or type name the reason rightly names.
            (piece) => piece.length >= 6 && !/^[A-Za-z"]*$/.test(piece),
          );
          for (const error of res.errors ?? []) {
            expect(pieces.filter((piece) => error.message.includes(piece))).toEqual([]);
          }
        }
      }),
      {
        numRuns: 120,
        // Found by this property: the echoed input was cut at its first ';', so the rest of the key leaked.
        examples: [
          [
            {
              provider: "RUNPOD",
              apiKey: "rpa_0123;456789abcdef",
              unknownField: 1,
            },
          ],
        ],
      },
    );
  });

  it("deleteProviderSecret", async () => {
    await fc.assert(
      fc.asyncProperty(enumOf("RUNPOD", "HUGGINGFACE"), async (provider) => {
        await mutate("fz-secret", DELETE_SECRET, { provider });
      }),
      { numRuns: 50 },
    );
  });

  it("deployTraining", async () => {
    await fc.assert(
      fc.asyncProperty(deployTrainingInput, async ([configId, value]) => {
        const variables = {
          input:
            typeof value === "object" && value !== null && !Array.isArray(value)
              ? {
                  ...value,
                  trainingConfigId: resolveId(configId, deployConfigId, foreignConfigId),
                }
              : value,
        };
        // A refusal stores nothing, unless RunPod was asked for a pod: then the FAILED deployment it names stays.
        await mutate("fz-deploy", DEPLOY, variables, {
          storesNothingOnError: (res) => res.errors?.[0]?.extensions?.deploymentId === undefined,
        });
      }),
      { numRuns: 100 },
    );
  });

  it("stopDeployment and refreshDeployment", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(STOP, REFRESH), idChoice, async (query, id) => {
        await mutate("fz-deploy", query, {
          id: resolveId(id, deploymentId, foreignConfigId),
        });
      }),
      { numRuns: 100 },
    );
  });
});
