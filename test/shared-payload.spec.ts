import WebSocket from "ws";
import { eventually } from "./support/eventually";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

// A point's result is serialised once for all its subscribers and each subscriber's `next` message is that JSON
// with its own `id` around it: what a client receives must stay exactly what graphql-ws itself writes.

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

const METRICS = `subscription($jobId: ID!) { trainingMetrics(jobId: $jobId) { step loss learningRate } }`;

function post(rows: DeploymentRows, step: number): Promise<void> {
  return fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ metrics: [{ step, loss: 2.5, learning_rate: 0.000123456789 }] }),
  }).then((r) => {
    if (r.status !== 200) throw new Error(`POST answered ${r.status}`);
  });
}

type Frame = { id?: string; type: string; payload?: unknown };

/** A graphql-transport-ws client on a raw socket that keeps every frame as the exact text received. */
async function rawClient(token: string) {
  const socket = new WebSocket(`${t.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  socket.on("message", (data: Buffer) => {
    raw.push(data.toString("utf8"));
    for (const wake of [...waiters]) wake();
  });
  const frames = () => raw.map((text) => JSON.parse(text) as Frame);
  const until = (predicate: (frames: Frame[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const wake = () => {
        if (!predicate(frames())) return;
        waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`timed out with frames ${JSON.stringify(raw)}`));
      }, 20_000);
      waiters.add(wake);
      wake();
    });
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  await until((f) => f.some((frame) => frame.type === "connection_ack"));
  const subscribe = (id: string, query: string, variables: Record<string, unknown>) =>
    socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
  return { socket, raw, frames, until, subscribe };
}

const stepOf = (frame: Frame) =>
  (frame.payload as { data?: { trainingMetrics?: { step: number } } }).data?.trainingMetrics?.step;

it("sends every subscriber of a point the same bytes graphql-ws would, each with its own id", async () => {
  const rows = await newDeployment(t.gateway.db.dataSource, "serialised-owner");
  const stranger = await newDeployment(t.gateway.db.dataSource, "serialised-stranger");
  const token = await t.token("serialised-owner");
  const a = await rawClient(token);
  const b = await rawClient(token);
  // Two subscriptions on one socket asking the same (one shared result), one of them with an id that JSON has
  // to escape; another socket with the same question; one asking for another user's job (answered with a result
  // of errors, made for that subscriber alone, on the same socket in between).
  const odd = 'tab "2" \u2028 ü';
  a.subscribe("1", METRICS, { jobId: rows.job.id });
  a.subscribe(odd, METRICS, { jobId: rows.job.id });
  a.subscribe("theirs", METRICS, { jobId: stranger.job.id });
  b.subscribe("1", METRICS, { jobId: rows.job.id });
  await a.until((f) => f.some((frame) => frame.id === "theirs"));

  let step = 0;
  const started = (client: typeof a, ids: string[]) =>
    ids.every((id) => client.frames().some((frame) => frame.id === id && frame.type === "next"));
  // Live once each subscription has had a point (nothing announces it sooner): post until then.
  await eventually(
    async () => {
      if (started(a, ["1", odd]) && started(b, ["1"])) return true;
      await post(rows, step++);
      return false;
    },
    "a first point on every subscription",
    15_000,
  );
  const last = step + 4;
  for (; step <= last; step++) await post(rows, step);
  const hasLast = (id: string) => (f: Frame[]) =>
    f.some((frame) => frame.id === id && stepOf(frame) === last);
  await a.until((f) => hasLast("1")(f) && hasLast(odd)(f));
  await b.until(hasLast("1"));

  const refused = a.frames().find((frame) => frame.id === "theirs");
  expect(refused).toMatchObject({
    type: "next",
    payload: { errors: [{ message: "training job not found", extensions: { code: "NOT_FOUND" } }] },
  });
  for (const client of [a, b]) {
    for (const text of client.raw) {
      // graphql-ws writes `JSON.stringify({ id, type, payload })`: the received text is exactly that.
      const frame = JSON.parse(text) as Frame;
      expect(text).toBe(JSON.stringify(frame));
      if (frame.type !== "next" || frame.id === "theirs") continue;
      expect(Object.keys(frame)).toEqual(["id", "type", "payload"]);
      expect(frame.payload).toEqual({
        data: { trainingMetrics: { step: stepOf(frame), loss: 2.5, learningRate: 0.000123456789 } },
      });
    }
  }
  // Each subscription got every point from its first one, under its own id.
  const steps = (client: typeof a, id: string) =>
    client
      .frames()
      .filter((frame) => frame.id === id && frame.type === "next")
      .map((frame) => stepOf(frame)!);
  for (const [client, id] of [
    [a, "1"],
    [a, odd],
    [b, "1"],
  ] as const) {
    const got = steps(client, id);
    expect(got).toEqual(Array.from({ length: last - got[0] + 1 }, (_, i) => got[0] + i));
  }
  // The same point reached both subscriptions of socket a with the same payload text and its own id.
  const textOf = (id: string) =>
    a.raw.find((text) => {
      const frame = JSON.parse(text) as Frame;
      return frame.id === id && stepOf(frame) === last;
    });
  expect(textOf(odd)).toBe(textOf("1")!.replace('{"id":"1"', `{"id":${JSON.stringify(odd)}`));
  a.socket.close();
  b.socket.close();
}, 60_000);
