import { Writable } from "node:stream";
import { ApolloServer } from "@apollo/server";
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";
import type { GatewayContext } from "../auth/context";
import { AppError, ErrorCode, rateLimited } from "../errors/app-error";
import { errorsPlugin } from "./errors-plugin";
import { formatError } from "./format-error";
import { createLogger } from "./logger";

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

/** A schema whose fields fail the ways resolvers do. */
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: {
      bug: {
        type: GraphQLString,
        resolve: () => {
          throw new Error("connection to 10.0.0.5 refused: password=hunter2");
        },
      },
      missing: {
        type: GraphQLString,
        resolve: () => {
          throw new AppError(ErrorCode.NOT_FOUND, "deployment not found");
        },
      },
      limited: {
        type: GraphQLString,
        resolve: () => {
          throw rateLimited("at most 3 deploys per hour", 42);
        },
      },
    },
  }),
});

async function run(query: string) {
  const { logger, lines } = capture();
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    formatError: (formatted, error) => formatError(formatted, error),
    plugins: [errorsPlugin(logger)],
  });
  await apollo.start();
  try {
    const context = { requestId: "req-42" } as GatewayContext;
    const response = await apollo.executeOperation({ query }, { contextValue: context });
    if (response.body.kind !== "single") throw new Error("expected a single result");
    return { result: response.body.singleResult, http: response.http, log: lines.join("") };
  } finally {
    await apollo.stop();
  }
}

describe("the errors plugin", () => {
  it("hides an unexpected error behind the request id, and logs it in full with that id", async () => {
    const { result, log } = await run("{ bug }");
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: "Internal server error (request req-42)",
        extensions: { code: "INTERNAL_SERVER_ERROR", requestId: "req-42" },
      }),
    ]);
    expect(JSON.stringify(result)).not.toContain("hunter2");
    expect(log).toContain("unexpected error");
    expect(log).toContain("req-42");
    expect(log).toContain("10.0.0.5");
  });

  it("passes a known error through unlogged", async () => {
    const { result, log } = await run("{ missing }");
    expect(result.errors).toEqual([
      expect.objectContaining({ message: "deployment not found", extensions: { code: "NOT_FOUND" } }),
    ]);
    expect(log).toBe("");
  });

  it("answers a limit reached in a resolver with 429 and the wait it asks", async () => {
    const { result, http } = await run("{ limited }");
    expect(result.errors?.[0].extensions).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: 42 });
    expect(http.status).toBe(429);
    expect(http.headers.get("retry-after")).toBe("42");
  });
});
