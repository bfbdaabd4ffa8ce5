import {
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  type ExecutionResult,
} from "graphql";
import { sharedResultJson, subscribeShared } from "./shared-execution";

/** A schema whose subscription hands every subscriber the same event objects, counting field executions. */
function harness() {
  let executions = 0;
  const listeners = new Set<(event: unknown) => void>();
  const Point = new GraphQLObjectType({
    name: "Point",
    fields: {
      step: {
        type: new GraphQLNonNull(GraphQLInt),
        resolve: (point: { step: number }) => {
          executions += 1;
          if (point.step < 0) throw new Error("a negative step");
          return point.step;
        },
      },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: "Query", fields: { ok: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({
      name: "Subscription",
      fields: {
        points: {
          type: new GraphQLNonNull(Point),
          args: { job: { type: GraphQLString } },
          // A number stands for an event made for one subscriber only (not an object: never shared).
          resolve: (event: unknown) => (typeof event === "number" ? { step: event } : event),
          subscribe: () => {
            const queue: unknown[] = [];
            let wake: (() => void) | undefined;
            const listener = (event: unknown) => {
              queue.push(event);
              wake?.();
            };
            listeners.add(listener);
            const iterator: AsyncIterableIterator<unknown> = {
              next: async () => {
                while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
                return { value: queue.shift()!, done: false };
              },
              return: () => {
                listeners.delete(listener);
                return Promise.resolve({ value: undefined, done: true });
              },
              [Symbol.asyncIterator]: () => iterator,
            };
            return iterator;
          },
        },
      },
    }),
  });
  return {
    schema,
    emit: (event: unknown) => listeners.forEach((l) => l(event)),
    executions: () => executions,
  };
}

describe("subscribeShared", () => {
  it("executes an event once for every subscription asking the same, and apart for a different question", async () => {
    const { schema, emit, executions } = harness();
    const document = parse(`subscription($job: String) { points(job: $job) { step } }`);
    const open = (job: string) =>
      subscribeShared({ schema, document, variableValues: { job } }) as Promise<
        AsyncIterableIterator<{ data?: unknown }>
      >;
    const [a, b, c] = await Promise.all([open("j1"), open("j1"), open("j2")]);
    emit({ step: 7 });
    const [ra, rb, rc] = await Promise.all([a.next(), b.next(), c.next()]);
    const data = (r: IteratorResult<{ data?: unknown }>) => (r.done === true ? undefined : r.value.data);
    expect([ra, rb, rc].map(data)).toEqual([
      { points: { step: 7 } },
      { points: { step: 7 } },
      { points: { step: 7 } },
    ]);
    expect(ra.value).toBe(rb.value); // one execution, shared
    expect(executions()).toBe(2); // j1 once, j2 once
    await Promise.all([a.return?.(), b.return?.(), c.return?.()]);
  });

  it("serialises a shared result once, as graphql-ws would, and leaves errors and unshared results alone", async () => {
    const { schema, emit } = harness();
    const document = parse(`subscription { points { step } }`);
    const open = () =>
      subscribeShared({ schema, document }) as Promise<AsyncIterableIterator<ExecutionResult>>;
    const [a, b] = await Promise.all([open(), open()]);
    const next = async () => {
      const [ra, rb] = await Promise.all([a.next(), b.next()]);
      return [ra.value as ExecutionResult, rb.value as ExecutionResult];
    };

    emit({ step: 3 });
    const [shared, same] = await next();
    const json = sharedResultJson(shared);
    expect(json).toBe(JSON.stringify({ data: { points: { step: 3 } } }));
    expect(sharedResultJson(same)).toBe(json); // the same string, not made again

    emit({ step: -1 });
    const [failed] = await next();
    expect(failed.errors?.map((e) => e.message)).toEqual(["a negative step"]);
    expect(sharedResultJson(failed)).toBeUndefined();

    emit(4);
    const [own, other] = await next();
    expect(own).not.toBe(other);
    expect(own.data).toEqual({ points: { step: 4 } });
    expect(sharedResultJson(own)).toBeUndefined();
    await Promise.all([a.return?.(), b.return?.()]);
  });
});
