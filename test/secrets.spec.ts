import { parseKey } from "../src/config/env";
import { Provider } from "../src/secrets/provider";
import { dropTestDatabases, freshDatabase, type TestDatabaseTarget } from "./support/database";
import { startTestGateway, TEST_ENCRYPTION_KEY, type TestGateway } from "./support/gateway";

const SET = `mutation($input: ProviderSecretInput!) { setProviderSecret(input: $input) { provider last4 description createdAt updatedAt } }`;
const RUNPOD_KEY = "rpa_ZXCVBNMASDFGHJKLQWERTYUIOP1234";
const HF_KEY = "hf_abcdefghijklmnopqrstuvwxyz012345";
const NEW_KEY = Buffer.alloc(32, 9).toString("base64");

let database: TestDatabaseTarget;
beforeAll(async () => {
  database = await freshDatabase();
});
afterAll(dropTestDatabases);

async function withGateway<T>(env: Record<string, string>, fn: (t: TestGateway) => Promise<T>): Promise<T> {
  const t = await startTestGateway({ database, env });
  try {
    return await fn(t);
  } finally {
    await t.gateway.close();
  }
}

async function storedRow(t: TestGateway, user: string, provider: Provider) {
  const rows: { api_key_encrypted: string; key_version: string; last4: string }[] =
    await t.gateway.db.dataSource.query(
      `SELECT api_key_encrypted, key_version, last4 FROM provider_secrets WHERE user_id = $1 AND provider = $2`,
      [user, provider],
    );
  return rows[0];
}

describe("provider secrets", () => {
  it("store the key encrypted, show only its last 4 characters, and decrypt it back", async () => {
    await withGateway({}, async (t) => {
      const res = await t.gql<{ setProviderSecret: Record<string, unknown> }>("sec-a", SET, {
        input: { provider: "RUNPOD", apiKey: RUNPOD_KEY, description: "team key" },
      });
      expect(res.data?.setProviderSecret).toMatchObject({
        provider: "RUNPOD",
        last4: "1234",
        description: "team key",
      });
      expect(JSON.stringify(res)).not.toContain(RUNPOD_KEY);

      const row = await storedRow(t, "sec-a", Provider.RUNPOD);
      expect(row.api_key_encrypted).not.toContain(RUNPOD_KEY);
      expect(Buffer.from(row.api_key_encrypted, "base64").toString("latin1")).not.toContain(RUNPOD_KEY);
      expect(row.key_version).toBe(parseKey(TEST_ENCRYPTION_KEY)!.version);
      expect(await t.gateway.services.secrets.reveal("sec-a", Provider.RUNPOD)).toBe(RUNPOD_KEY);

      const list = await t.gql<{ providerSecrets: { provider: string; last4: string }[] }>(
        "sec-a",
        `{ providerSecrets { provider last4 } }`,
      );
      expect(list.data?.providerSecrets).toEqual([{ provider: "RUNPOD", last4: "1234" }]);
      expect(t.logs.text).not.toContain(RUNPOD_KEY);
    });
  });

  it("replace an earlier key of the same provider and delete it idempotently", async () => {
    await withGateway({}, async (t) => {
      await t.gql("sec-b", SET, { input: { provider: "HUGGINGFACE", apiKey: HF_KEY } });
      await t.gql("sec-b", SET, { input: { provider: "HUGGINGFACE", apiKey: `${HF_KEY}9999` } });
      const list = await t.gql<{ providerSecrets: { last4: string }[] }>(
        "sec-b",
        `{ providerSecrets { last4 } }`,
      );
      expect(list.data?.providerSecrets).toEqual([{ last4: "9999" }]);
      const del = `mutation { deleteProviderSecret(provider: HUGGINGFACE) }`;
      expect((await t.gql<{ deleteProviderSecret: boolean }>("sec-b", del)).data?.deleteProviderSecret).toBe(
        true,
      );
      expect((await t.gql<{ deleteProviderSecret: boolean }>("sec-b", del)).data?.deleteProviderSecret).toBe(
        false,
      );
    });
  });

  it("never echo a key in an error or a log line, even when it is sent wrongly", async () => {
    await withGateway({}, async (t) => {
      const spaced = `${RUNPOD_KEY} extra`;
      const wrongType = 123456789012345;
      const bad1 = await t.gql("sec-c", SET, { input: { provider: "RUNPOD", apiKey: spaced } });
      const bad2 = await t.gql("sec-c", SET, { input: { provider: "RUNPOD", apiKey: wrongType } });
      const bad3 = await t.gql("sec-c", SET, { input: { provider: "NOPE", apiKey: RUNPOD_KEY } });
      for (const res of [bad1, bad2, bad3]) expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect(bad1.errors?.[0].extensions?.field).toBe("input.apiKey");
      const everything = JSON.stringify([bad1, bad2, bad3]) + t.logs.text;
      expect(everything).not.toContain(RUNPOD_KEY);
      expect(everything).not.toContain(String(wrongType));
    });
  });

  it("keep decrypting after ENCRYPTION_KEY is rotated, and move old rows to the new key", async () => {
    await withGateway({}, async (t) => {
      await t.gql("sec-rot", SET, { input: { provider: "RUNPOD", apiKey: RUNPOD_KEY } });
    });
    const oldVersion = parseKey(TEST_ENCRYPTION_KEY)!.version;
    const newVersion = parseKey(NEW_KEY)!.version;

    await withGateway(
      { ENCRYPTION_KEY: NEW_KEY, ENCRYPTION_KEY_PREVIOUS: TEST_ENCRYPTION_KEY },
      async (t) => {
        expect((await storedRow(t, "sec-rot", Provider.RUNPOD)).key_version).toBe(oldVersion);
        expect(await t.gateway.services.secrets.reveal("sec-rot", Provider.RUNPOD)).toBe(RUNPOD_KEY);
        expect((await storedRow(t, "sec-rot", Provider.RUNPOD)).key_version).toBe(newVersion);
        // A write always uses the current key.
        await t.gql("sec-rot", SET, { input: { provider: "HUGGINGFACE", apiKey: HF_KEY } });
        expect((await storedRow(t, "sec-rot", Provider.HUGGINGFACE)).key_version).toBe(newVersion);
      },
    );

    // The old key can now be retired.
    await withGateway({ ENCRYPTION_KEY: NEW_KEY }, async (t) => {
      expect(await t.gateway.services.secrets.reveal("sec-rot", Provider.RUNPOD)).toBe(RUNPOD_KEY);
      expect(await t.gateway.services.secrets.reveal("sec-rot", Provider.HUGGINGFACE)).toBe(HF_KEY);
    });
  });

  it("bind a ciphertext to its owner: a row copied to another user does not decrypt", async () => {
    await withGateway({}, async (t) => {
      await t.gql("sec-owner", SET, { input: { provider: "RUNPOD", apiKey: RUNPOD_KEY } });
      await t.gql("sec-thief", SET, { input: { provider: "RUNPOD", apiKey: "rpa_placeholder_placeholder" } });
      await t.gateway.db.dataSource.query(
        `UPDATE provider_secrets SET api_key_encrypted = (SELECT api_key_encrypted FROM provider_secrets WHERE user_id = 'sec-owner')
         WHERE user_id = 'sec-thief'`,
      );
      await expect(t.gateway.services.secrets.reveal("sec-thief", Provider.RUNPOD)).rejects.toThrow();
    });
  });
});
