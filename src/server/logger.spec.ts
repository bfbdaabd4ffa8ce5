import { QueryFailedError } from "typeorm";
import { Writable } from "node:stream";
import { createLogger } from "./logger";

describe("the logger", () => {
  it("logs a failed statement without the values it ran with", () => {
    let text = "";
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString("utf8");
        done();
      },
    });
    const driverError = Object.assign(new Error("duplicate key value violates unique constraint"), {
      code: "23505",
      detail: "Key (user_id, provider)=(alice, RUNPOD) already exists.",
      parameters: ["v1:ciphertext-of-the-key"],
    });
    const error = new QueryFailedError(
      "INSERT INTO provider_secrets (user_id, api_key_encrypted) VALUES ($1, $2)",
      ["alice", "v1:ciphertext-of-the-key"],
      driverError,
    );
    createLogger("info", logs).error({ err: error }, "unexpected error");
    expect(text).toContain("INSERT INTO provider_secrets");
    expect(text).toContain("23505");
    expect(text).not.toContain("ciphertext-of-the-key");
    expect(text).not.toContain("alice");
  });
});
