import pino from "pino";
import { startRunpodSimulator } from "../runpod-sim/runpod-simulator";
import { ErrorCode } from "../errors/app-error";
import { CloudType, GpuType } from "./gpu-catalogue";
import { RunpodGraphqlClient, type RunpodLogger } from "./runpod-graphql-client";
import { describeRunpodClientContract, rejection } from "./testing/runpod-client.contract";

const RETRIES = 2;

describeRunpodClientContract("RunpodGraphqlClient", async () => {
  const sim = await startRunpodSimulator({ trainer: false, autoAccountPrefix: null });
  const { apiKey } = sim.addAccount();
  const lines: string[] = [];
  const logger: RunpodLogger = {
    warn: (obj, msg) => void lines.push(JSON.stringify({ level: "warn", ...obj, msg })),
    debug: (obj, msg) => void lines.push(JSON.stringify({ level: "debug", ...obj, msg })),
  };
  const make = (timeoutMs: number): RunpodGraphqlClient =>
    new RunpodGraphqlClient({ url: sim.url, timeoutMs, retries: RETRIES, retryBaseMs: 5, logger });
  return {
    sim,
    apiKey,
    client: make(15_000),
    clientWithTimeout: make,
    retries: RETRIES,
    logLines: () => lines,
    close: () => sim.close(),
  };
});

describe("RunpodGraphqlClient specifics", () => {
  it("accepts a pino logger as its logger", () => {
    const logger: RunpodLogger = pino({ enabled: false });
    expect(() => new RunpodGraphqlClient({ url: "http://127.0.0.1:1/graphql", logger })).not.toThrow();
  });

  it("refuses bad options at construction", () => {
    expect(() => new RunpodGraphqlClient({ url: "not a url" })).toThrow();
    expect(() => new RunpodGraphqlClient({ url: "http://x/graphql", timeoutMs: 0 })).toThrow();
    expect(() => new RunpodGraphqlClient({ url: "http://x/graphql", retries: -1 })).toThrow();
  });

  it("reports an unreachable RunPod as UPSTREAM_UNAVAILABLE after retrying", async () => {
    // A port that was just free: connection refused.
    const sim = await startRunpodSimulator({ trainer: false });
    const url = sim.url;
    await sim.close();
    const lines: string[] = [];
    const client = new RunpodGraphqlClient({
      url,
      retries: 2,
      retryBaseMs: 1,
      logger: { warn: (o, m) => void lines.push(`${m} ${JSON.stringify(o)}`), debug: () => undefined },
    });
    const error = await rejection(
      client.listGpuOffers(undefined, { cloudType: CloudType.SECURE, gpuCount: 1 }),
    );
    expect(error.code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(error.message).toBe("RunPod could not be reached");
    expect(lines.filter((l) => l.startsWith("runpod call failed; retrying"))).toHaveLength(2);
    expect(lines.join("\n")).toContain("ECONNREFUSED");
  });

  it("logs what RunPod refused with, redacting the key and the request's values", async () => {
    const sim = await startRunpodSimulator({ trainer: false });
    try {
      const { apiKey } = sim.addAccount();
      const lines: string[] = [];
      const client = new RunpodGraphqlClient({
        url: sim.url,
        logger: { warn: (o, m) => void lines.push(`${m} ${JSON.stringify(o)}`), debug: () => undefined },
      });
      const token = "jt_secret_token_value_42";
      sim.faults.graphqlErrorNext(1, {
        message: `cannot deploy for ${apiKey}: env ${token} refused`,
        code: "ODD",
      });
      const error = await rejection(
        client.createPod(apiKey, {
          name: "traingate-x",
          gpuType: GpuType.RTX_A4000,
          gpuCount: 1,
          cloudType: CloudType.SECURE,
          imageName: "img",
          dockerArgs: "run",
          env: { JOB_TOKEN: token },
          volumeInGb: 0,
          containerDiskInGb: 10,
        }),
      );
      expect(error).toMatchObject({
        code: ErrorCode.INTERNAL_SERVER_ERROR,
        message: "RunPod rejected the request",
      });
      expect(error.details).toMatchObject({ operation: "CreatePod", upstreamCode: "ODD" });
      const refused = lines.find((l) => l.startsWith("runpod refused the request"));
      expect(refused).toContain("cannot deploy for [redacted]: env [redacted] refused");
      expect(lines.join("\n")).not.toContain(apiKey);
      expect(lines.join("\n")).not.toContain(token);
    } finally {
      await sim.close();
    }
  });

  it("sends the key in the Authorization header, never in the URL", async () => {
    const sim = await startRunpodSimulator({ trainer: false });
    try {
      const { apiKey } = sim.addAccount();
      await new RunpodGraphqlClient({ url: sim.url }).listPods(apiKey);
      expect(sim.requests[0]).toMatchObject({
        keySource: "header",
        keyPresent: true,
        operationName: "ListPods",
      });
    } finally {
      await sim.close();
    }
  });
});
