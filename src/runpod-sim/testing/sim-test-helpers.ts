import http from "node:http";
import type { AddressInfo } from "node:net";
import type { RunpodSimulator } from "../runpod-simulator";
import { requestJson } from "../sim-http";

/** A raw GraphQL answer: HTTP status plus the parsed body. */
export interface RawAnswer {
  readonly status: number;
  readonly body: { data?: Record<string, unknown> | null; errors?: Record<string, unknown>[] } & Record<
    string,
    unknown
  >;
}

/** Posts a GraphQL request to the simulator like any third-party client would. */
export async function gql(
  sim: RunpodSimulator,
  query: string,
  variables: Record<string, unknown> = {},
  auth: { key?: string; via?: "header" | "query" } = {},
): Promise<RawAnswer> {
  const url = new URL(sim.url);
  const headers: Record<string, string> = {};
  if (auth.key !== undefined) {
    if (auth.via === "query") url.searchParams.set("api_key", auth.key);
    else headers.authorization = `Bearer ${auth.key}`;
  }
  const answer = await requestJson("POST", url.toString(), {
    body: { query, variables },
    headers,
    timeoutMs: 10_000,
  });
  const body =
    typeof answer.body === "object" && answer.body !== null
      ? (answer.body as RawAnswer["body"])
      : { raw: answer.body };
  return { status: answer.status, body };
}

export const POD_FIELDS =
  "id name imageName desiredStatus lastStatusChange costPerHr uptimeSeconds gpuCount env podType " +
  "machine { podHostId gpuDisplayName location } " +
  "runtime { uptimeInSeconds ports { ip isIpPublic privatePort publicPort type } gpus { id gpuUtilPercent } }";

export const CREATE = `mutation Create($input: PodFindAndDeployOnDemandInput!) {
  podFindAndDeployOnDemand(input: $input) { ${POD_FIELDS} }
}`;
export const GET = `query Get($podId: String!) { pod(input: { podId: $podId }) { ${POD_FIELDS} } }`;
export const TERMINATE = `mutation T($podId: String!) { podTerminate(input: { podId: $podId }) }`;
export const STOP = `mutation S($podId: String!) { podStop(input: { podId: $podId }) { id desiredStatus costPerHr } }`;
export const RESUME = `mutation R($podId: String!) { podResume(input: { podId: $podId }) { id desiredStatus costPerHr } }`;

/** A create input with sensible defaults. */
export function createInput(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "traingate-test",
    imageName: "runpod/pytorch:2.4.0",
    gpuTypeId: "NVIDIA RTX A4000",
    gpuCount: 1,
    cloudType: "SECURE",
    volumeInGb: 20,
    containerDiskInGb: 20,
    volumeMountPath: "/workspace",
    dockerArgs: "bash -c 'echo hi'",
    env: [],
    ...over,
  };
}

/** Creates a pod through GraphQL and returns its id (fails the test on any error). */
export async function deployPod(
  sim: RunpodSimulator,
  key: string,
  over: Record<string, unknown> = {},
): Promise<string> {
  const answer = await gql(sim, CREATE, { input: createInput(over) }, { key });
  const pod = answer.body.data?.podFindAndDeployOnDemand as { id?: unknown } | null | undefined;
  if (answer.status !== 200 || typeof pod?.id !== "string") {
    throw new Error(`deploy failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return pod.id;
}

/** One request the fake gateway received. */
export interface ReceivedCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

/** A tiny HTTP server standing in for the gateway's pod callback routes. */
export interface FakeGateway {
  /** `http://127.0.0.1:PORT/api/training/jobs`, the METRICS_API_URL to hand a pod. */
  readonly metricsApiUrl: string;
  readonly calls: ReceivedCall[];
  /** Decides each answer; default 200 `{"status":"ok","accepted":N,"stop":false}`. */
  respond: (call: ReceivedCall) => { status: number; body: unknown };
  close(): Promise<void>;
}

export async function startFakeGateway(): Promise<FakeGateway> {
  const calls: ReceivedCall[] = [];
  const gateway: FakeGateway = {
    metricsApiUrl: "",
    calls,
    respond: (call) => {
      const metrics = (call.body as { metrics?: unknown[] } | null)?.metrics;
      return call.path.endsWith("/metrics")
        ? {
            status: 200,
            body: { status: "ok", accepted: Array.isArray(metrics) ? metrics.length : 1, stop: false },
          }
        : { status: 200, body: { status: "ok", stop: false } };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
      } catch {
        body = null;
      }
      const call: ReceivedCall = {
        method: req.method ?? "",
        path: req.url ?? "",
        authorization: req.headers.authorization,
        body,
      };
      calls.push(call);
      const { status, body: answer } = gateway.respond(call);
      const text = JSON.stringify(answer);
      res.writeHead(status, { "content-type": "application/json" }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  (gateway as { metricsApiUrl: string }).metricsApiUrl = `http://127.0.0.1:${port}/api/training/jobs`;
  return gateway;
}

/** TRAINGATE_CONFIG_B64 for a config object. */
export const configB64 = (config: unknown): string => Buffer.from(JSON.stringify(config)).toString("base64");
