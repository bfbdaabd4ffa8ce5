import { GraphQLError } from "graphql";
import { AppError, ErrorCode } from "../errors/app-error";
import { createLogger } from "./logger";
import { logHiddenErrors } from "./errors-plugin";
import { formatError, stripEchoedValues } from "./format-error";
import { Writable } from "node:stream";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger("info", stream), lines };
}

describe("formatError", () => {
  it("passes an AppError's code, message and details through", () => {
    const error = new AppError(ErrorCode.GPU_UNAVAILABLE, "no H100 left", { field: "input.gpuType" });
    const out = formatError({ message: "x" }, error);
    expect(out).toMatchObject({
      message: "no H100 left",
      extensions: { code: "GPU_UNAVAILABLE", field: "input.gpuType" },
    });
  });

  it("keeps an AppError's code when graphql-ws wraps what a subscription stream threw (no path)", () => {
    const { logger, lines } = capture();
    const thrown = new AppError(ErrorCode.RATE_LIMITED, "the subscription fell too far behind");
    const wrapped = new GraphQLError(thrown.message, { originalError: thrown });
    const out = formatError(wrapped.toJSON(), wrapped);
    expect(out).toMatchObject({ message: thrown.message, extensions: { code: "RATE_LIMITED" } });
    logHiddenErrors([wrapped], logger, "req-1");
    expect(lines).toEqual([]);
  });

  it("hides an unexpected error's message and says INTERNAL_SERVER_ERROR; the log has it, with the request id", () => {
    const { logger, lines } = capture();
    const error = new GraphQLError("boom", {
      originalError: new Error("connection to 10.0.0.5 refused: password=hunter2"),
    });
    const out = formatError({ message: "boom", extensions: { code: "INTERNAL_SERVER_ERROR" } }, error);
    expect(out.message).toBe("Internal server error");
    expect(out.extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
    expect(JSON.stringify(out)).not.toContain("hunter2");
    logHiddenErrors([error], logger, "req-42");
    expect(lines.join("")).toContain("req-42");
    expect(lines.join("")).toContain("unexpected error");
  });

  it("keeps Apollo's codes for a document that does not parse or validate, and answers transport refusals BAD_REQUEST", () => {
    const code = (given: string) =>
      formatError({ message: "x", extensions: { code: given } }, new GraphQLError("x")).extensions;
    expect(code("GRAPHQL_VALIDATION_FAILED")).toEqual({ code: "GRAPHQL_VALIDATION_FAILED" });
    expect(code("GRAPHQL_PARSE_FAILED")).toEqual({ code: "GRAPHQL_PARSE_FAILED" });
    expect(code("BAD_REQUEST")).toEqual({ code: "BAD_REQUEST" });
    expect(code("OPERATION_RESOLUTION_FAILURE")).toEqual({ code: "BAD_REQUEST" });
    // A graphql-js error with no code of its own is a value's fault.
    expect(formatError({ message: "x" }, new GraphQLError("x")).extensions).toEqual({
      code: "BAD_USER_INPUT",
    });
  });

  it.each([
    [
      'Variable "$input" got invalid value { apiKey: 123 } at "input.apiKey"; String cannot represent a non string value: 123',
      'Variable "$input" got an invalid value at "input.apiKey"; String cannot represent a non string value',
    ],
    [
      'Variable "$first" got invalid value "x"; Int cannot represent non-integer value: "x"',
      'Variable "$first" got an invalid value; Int cannot represent non-integer value',
    ],
  ])("cuts echoed values out of %s", (message, expected) => {
    expect(stripEchoedValues(message)).toBe(expected);
  });

  it("cuts the whole echoed value when the reason is known, a '; ' inside it included (found by fuzzing)", () => {
    const reason = 'Field "extra" is not defined by type "ProviderSecretInput".';
    const message = `Variable "$input" got invalid value { provider: "RUNPOD", apiKey: "rpa_x; secret-tail", extra: 1 }; ${reason}`;
    expect(stripEchoedValues(message, reason)).toBe(`Variable "$input" got an invalid value; ${reason}`);
    const nested = "Int cannot represent non-integer value: 1.5";
    expect(
      stripEchoedValues(
        `Variable "$input" got invalid value { a: "x; y" } at "input.hyperparameters.epochs"; ${nested}`,
        nested,
      ),
    ).toBe(
      'Variable "$input" got an invalid value at "input.hyperparameters.epochs"; Int cannot represent non-integer value',
    );
  });
});
