import WebSocket from "ws";
import { eventually } from "./support/eventually";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { collect, wsClient } from "./support/ws";

// A dashboard tab that stops reading (a laptop lid closed, a frozen tab) must not make the gateway hold its
// points without bound: the server keeps a bounded amount per subscriber, then ends that subscription with an
// error saying to subscribe again, and every other subscriber of the same run keeps getting every point.

const BUFFER = 1_000;
/** Thirty aliases (the query limit) make each message about a kilobyte, so kernel buffers fill quickly. */
const WIDE = `subscription($jobId: ID!) { trainingMetrics(jobId: $jobId) { step ${Array.from(
  { length: 30 },
  (_, i) => `a${i}: learningRate`,
).join(" ")} } }`;
const NARROW = `subscription($jobId: ID!) { trainingMetrics(jobId: $jobId) { step } }`;
const RESUME = `subscription($jobId: ID!, $afterStep: Int) { trainingMetrics(jobId: $jobId, afterStep: $afterStep) { step } }`;
const TOTAL = 12_000;
const BATCH = 500;

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({
    gatewayOptions: {
      metricsRoutes: { ratePerSecond: 10_000, burst: 10_000 },
      subscriptions: { buffer: BUFFER },
    },
  });
});
afterAll(() => t.close());

function post(rows: DeploymentRows, from: number, count: number): Promise<void> {
  const metrics = Array.from({ length: count }, (_, i) => ({
    step: from + i,
    loss: 2,
    learning_rate: 0.000123456789,
  }));
  return fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ metrics }),
  }).then((r) => {
    if (r.status !== 200) throw new Error(`POST answered ${r.status}`);
  });
}

type Frame = { id?: string; type: string; payload?: unknown };
const stepOf = (frame: Frame) =>
  (frame.payload as { data?: { trainingMetrics?: { step: number } } } | undefined)?.data?.trainingMetrics
    ?.step ?? -1;

/** A graphql-transport-ws subscriber on a raw socket, so the test can stop reading from it. */
async function rawSubscriber(token: string, jobId: string) {
  const socket = new WebSocket(`${t.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  socket.on("message", (data: Buffer) => {
    frames.push(JSON.parse(data.toString("utf8")) as Frame);
    for (const wake of [...waiters]) wake();
  });
  const until = (predicate: () => boolean, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const wake = () => {
        if (!predicate()) return;
        waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`timed out with ${frames.length} frames, last ${JSON.stringify(frames.at(-1))}`));
      }, timeoutMs);
      waiters.add(wake);
      wake();
    });
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  await until(() => frames.some((f) => f.type === "connection_ack"));
  socket.send(
    JSON.stringify({ id: "wide", type: "subscribe", payload: { query: WIDE, variables: { jobId } } }),
  );
  return { socket, frames, until };
}

it("ends a subscriber that stops reading, after a bounded backlog, and keeps serving the others", async () => {
  const rows = await newDeployment(t.gateway.db.dataSource, "slow-reader");
  const token = await t.token("slow-reader");
  const slow = await rawSubscriber(token, rows.job.id);
  const healthy = wsClient(t.url, token);
  const others = collect(
    healthy,
    NARROW,
    { jobId: rows.job.id },
    (d) => (d.trainingMetrics as { step: number }).step,
  );

  // Live on both before the slow one stops reading.
  let step = 0;
  await eventually(
    async () => {
      if (slow.frames.some((f) => f.type === "next") && others.values.length > 0) return true;
      await post(rows, step++, 1);
      return false;
    },
    "a first point on both subscribers",
    15_000,
  );
  const first = step;
  slow.socket.pause();
  for (let from = first; from < first + TOTAL; from += BATCH) await post(rows, from, BATCH);
  await others.until((steps) => steps.includes(first + TOTAL - 1), 60_000);

  slow.socket.resume();
  await slow.until(() => slow.frames.some((f) => f.id === "wide" && f.type !== "next"));
  const delivered = slow.frames.filter((f) => f.type === "next").length;
  const ending = slow.frames.find((f) => f.id === "wide" && f.type !== "next");
  expect(ending).toMatchObject({ type: "error" });
  expect(JSON.stringify(ending?.payload)).toMatch(
    /RATE_LIMITED.*subscribe again|subscribe again.*RATE_LIMITED/,
  );
  expect(delivered).toBeLessThan(first + TOTAL);

  // The reader that kept up got every point, in order, from the one it first saw.
  const tail = others.values.slice(others.values.indexOf(first));
  expect(tail).toEqual(Array.from({ length: TOTAL }, (_, i) => first + i));
  // The connection itself is still usable: the client subscribes again on it, resuming after the last point it
  // kept, as the error says, and gets the rest from the history.
  const kept = Math.max(...slow.frames.filter((f) => f.type === "next").map(stepOf));
  slow.socket.send(
    JSON.stringify({
      id: "again",
      type: "subscribe",
      payload: { query: RESUME, variables: { jobId: rows.job.id, afterStep: kept } },
    }),
  );
  await slow.until(() => slow.frames.some((f) => f.id === "again" && stepOf(f) === first + TOTAL - 1));
  const resumed = slow.frames.filter((f) => f.id === "again").map(stepOf);
  expect(resumed).toEqual(Array.from({ length: first + TOTAL - 1 - kept }, (_, i) => kept + 1 + i));
  slow.socket.close();
  await healthy.dispose();
}, 120_000);
