import {
  createSourceEventStream,
  execute,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from "graphql";

/**
 * graphql-js' `subscribe`, with one difference: when many subscriptions receive the same event object and ask
 * for the same thing (the same document, operation and variables), the event is executed once and the result
 * shared. A job's points reach every subscriber of that job as one object (see `toMetric` in
 * metrics/metric-stream.ts), so a hundred dashboards watching one run cost one execution per point instead of a
 * hundred. Events made for one subscriber (a deployment loaded for its owner) are distinct objects and are never
 * shared.
 */
export async function subscribeShared(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!isAsyncIterable(stream)) return stream;
  const key = `${documentId(args.document)}\u0000${args.operationName ?? ""}\u0000${JSON.stringify(args.variableValues ?? {})}`;
  const events = stream[Symbol.asyncIterator]();
  const results: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const event = await events.next();
      if (event.done === true) return { value: undefined, done: true };
      return { value: await executeShared(event.value, args, key), done: false };
    },
    async return() {
      await events.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await events.throw?.(error);
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return results;
    },
  };
  return results;
}

const ids = new WeakMap<DocumentNode, number>();
let nextId = 0;

function documentId(document: DocumentNode): number {
  let id = ids.get(document);
  if (id === undefined) {
    id = nextId++;
    ids.set(document, id);
  }
  return id;
}

/** Results by event object, then by what was asked; they go when the event object does. */
const executed = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();

function executeShared(
  root: unknown,
  args: ExecutionArgs,
  key: string,
): ExecutionResult | Promise<ExecutionResult> {
  if (root === null || typeof root !== "object") return execute({ ...args, rootValue: root });
  let byQuestion = executed.get(root);
  if (!byQuestion) {
    byQuestion = new Map();
    executed.set(root, byQuestion);
  }
  let result = byQuestion.get(key);
  if (!result) {
    const executing = execute({ ...args, rootValue: root });
    result = isPromise(executing) ? executing.then(markShared) : markShared(executing);
    byQuestion.set(key, result);
  }
  return result;
}

/**
 * Shared results, with their JSON once it was asked for (null until then). A point's result goes to every
 * subscriber of its job as one object; its JSON is made once for all of them (see `sharedResultJson`).
 */
const serialised = new WeakMap<ExecutionResult, string | null>();

function markShared(result: ExecutionResult): ExecutionResult {
  serialised.set(result, null);
  return result;
}

/**
 * The JSON of a result that `subscribeShared` shares between subscriptions, made on the first call and kept
 * for as long as the result object lives: exactly what graphql-ws writes as the payload of a `next` message
 * for a result without errors. Undefined for a result that is not shared, or has errors (those are formatted per
 * subscriber).
 */
export function sharedResultJson(result: ExecutionResult): string | undefined {
  const json = serialised.get(result);
  if (json === undefined || result.errors) return undefined;
  if (json !== null) return json;
  const { errors: _errors, ...payload } = result;
  const fresh = JSON.stringify(payload);
  serialised.set(result, fresh);
  return fresh;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
