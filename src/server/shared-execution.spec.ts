import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, parse } from "graphql";
import { subscribeShared } from "./shared-execution";

/** A schema whose subscription hands every subscriber the same event objects, counting field executions. */
function harness() {
  let executions = 0;
  const listeners = new Set<(event: object) => void>();
  const Point = new GraphQLObjectType({
    name: "Point",
    fields: {
      step: {
        type: new GraphQLNonNull(GraphQLInt),
        resolve: (point: { step: number }) => {
          executions += 1;
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
          resolve: (event: object) => event,
          subscribe: () => {
            const queue: object[] = [];
            let wake: (() => void) | undefined;
            const listener = (event: object) => {
              queue.push(event);
              wake?.();
            };
            listeners.add(listener);
            const iterator: AsyncIterableIterator<object> = {
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
    emit: (event: object) => listeners.forEach((l) => l(event)),
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
});
