/**
 * A lean graphql-transport-ws client for benches that hold a thousand sockets in one process: no per-message
 * JSON.parse on the hot path (a `next` message is recognised by its prefix and handed over raw), many
 * subscriptions per socket, pings answered. Speaks the protocol the gateway serves (graphql-ws 6) and the bare
 * fan-out server imitates.
 */
import WebSocket from "ws";

export interface GqlWsConnection {
  readonly socket: WebSocket;
  subscribe(id: string, query: string, variables: Record<string, unknown>): void;
  /** Errors and unexpected completes seen so far, as received. */
  readonly problems: string[];
  close(): Promise<void>;
}

const NEXT_PREFIX = '{"id":"';

/**
 * Opens a socket, sends `connection_init` with the bearer token, and resolves once `connection_ack` arrives.
 * `onNext(id, raw)` gets every `next` message unparsed.
 */
export function connectGqlWs(
  httpUrl: string,
  token: string,
  onNext: (id: string, raw: string) => void,
  timeoutMs = 30_000,
): Promise<GqlWsConnection> {
  const socket = new WebSocket(`${httpUrl.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws", {
    perMessageDeflate: false,
  });
  const problems: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no connection_ack within ${timeoutMs} ms`));
    }, timeoutMs);
    const connection: GqlWsConnection = {
      socket,
      problems,
      subscribe: (id, query, variables) =>
        socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } })),
      close: () =>
        new Promise<void>((done) => {
          if (socket.readyState === WebSocket.CLOSED) return done();
          socket.once("close", () => done());
          socket.close(1000);
          setTimeout(() => {
            socket.terminate();
            done();
          }, 5_000).unref();
        }),
    };
    socket.on("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
    });
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      const raw = isBinary ? "" : data.toString("utf8");
      if (raw.startsWith(NEXT_PREFIX)) {
        const end = raw.indexOf('"', NEXT_PREFIX.length);
        if (raw.startsWith('"type":"next"', end + 2)) {
          // A subscription that failed to start answers one `next` with errors, then `complete`.
          if (raw.startsWith('{"errors"', raw.indexOf('"payload":') + 10)) problems.push(raw.slice(0, 500));
          else onNext(raw.slice(NEXT_PREFIX.length, end), raw);
          return;
        }
      }
      let message: { type?: string; id?: string };
      try {
        message = JSON.parse(raw) as typeof message;
      } catch {
        problems.push(`unparsable message: ${raw.slice(0, 200)}`);
        return;
      }
      switch (message.type) {
        case "connection_ack":
          clearTimeout(timer);
          resolve(connection);
          return;
        case "ping":
          socket.send('{"type":"pong"}');
          return;
        case "pong":
          return;
        case "next":
          if (raw.includes('"errors":')) problems.push(raw.slice(0, 500));
          else onNext(message.id ?? "", raw);
          return;
        case undefined:
        default:
          problems.push(raw.slice(0, 500));
      }
    });
    socket.on("close", (code, reason) => {
      clearTimeout(timer);
      if (code !== 1000) problems.push(`closed ${code} ${reason.toString()}`);
      reject(new Error(`socket closed (${code} ${reason.toString()}) before connection_ack`));
    });
    socket.on("error", (error) => {
      problems.push(`socket error ${error.message}`);
    });
  });
}

/** Opens `count` connections, `parallel` at a time. */
export async function connectMany<T>(
  count: number,
  parallel: number,
  open: (index: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const index = next++;
        out[index] = await open(index);
      }
    }),
  );
  return out;
}

/** The step of a `next` message carrying a trainingMetrics point, without parsing the whole message. */
export function stepOf(raw: string): number {
  const at = raw.indexOf('"step":');
  if (at < 0) return -1;
  let value = 0;
  for (let i = at + 7; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  return value;
}

/** The dashboard's selection of a metric point (src/web/client/dashboard/operations.ts, MetricFields). */
export const TRAINING_METRICS_SUBSCRIPTION = `subscription TrainingMetrics($jobId: ID!) {
  trainingMetrics(jobId: $jobId) {
    jobId step epoch loss evalLoss learningRate gradNorm samplesPerSecond elapsedSeconds remainingSeconds
    progress gpuMemoryAllocatedGb gpuMemoryReservedGb gpuUtilizationPercent timestamp
  }
}`;
