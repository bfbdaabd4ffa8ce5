import fc from "fast-check";
import { METRIC_FIELDS } from "../../src/metrics/metric-fields";
import { MAX_BATCH } from "../../src/metrics/metric-payload";

/**
 * fast-check arbitraries of pod callback bodies (the REST routes a pod posts to): valid points, points with
 * bad values in known and unknown keys, batches around the 500 bound, status reports, and any JSON at all.
 * Shared by the parser's properties and the HTTP ones.
 */

export const MAX_STEP = 2 ** 31 - 1;
const FLOAT_KEYS = METRIC_FIELDS.filter((field) => field.kind !== "seconds").map((field) => field.key);
const SECONDS_KEYS = METRIC_FIELDS.filter((field) => field.kind === "seconds").map((field) => field.key);
export const POINT_KEYS = ["step", ...FLOAT_KEYS, ...SECONDS_KEYS];

/** Where a PayloadError may point: the body, the batch, or one key of one point. */
export const FIELD = new RegExp(`^(?:body|metrics|metrics\\[\\d+\\])(?:\\.(?:${POINT_KEYS.join("|")}))?$`);

const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

/** A point as the trainer sends it: every key optional but step, values in range. */
export const validPoint = fc.record(
  {
    step: fc.integer({ min: 0, max: MAX_STEP }),
    ...Object.fromEntries(
      FLOAT_KEYS.map((key) => [
        key,
        fc.option(key === "progress" ? fc.double({ min: 0, max: 100, noNaN: true }) : finiteDouble),
      ]),
    ),
    ...Object.fromEntries(SECONDS_KEYS.map((key) => [key, fc.option(fc.integer({ min: 0, max: MAX_STEP }))])),
  },
  { requiredKeys: ["step"] },
);

/** A long string, cheaply: a short random one repeated. */
const longString = fc
  .tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 4 }), fc.integer({ min: 1000, max: 20_000 }))
  .map(([unit, times]) => unit.repeat(times));

/** Values a buggy or hostile trainer could put under a point's key. */
export const badValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    "NaN",
    "Infinity",
    "-Infinity",
    NaN,
    Infinity,
    -Infinity,
    -0,
    -1,
    0.5,
    -0.5,
    1e308,
    -1e308,
    5e-324,
    MAX_STEP,
    MAX_STEP + 1,
    2 ** 53 + 2,
    100.0000001,
    true,
    "",
    "12",
    [],
    {},
  ),
  fc.double(),
  fc.integer(),
  fc.string({ unit: "binary", maxLength: 40 }),
  longString,
  fc.jsonValue({ maxDepth: 3 }),
  fc.nat(200).map((depth) => nested(depth)),
);

/** `[[[…{}…]]]`, `depth` deep. */
function nested(depth: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i += 1) value = i % 2 ? [value] : { step: value };
  return value;
}

/** A valid point with one to three keys (known or not) replaced by bad values. */
const mutatedPoint = fc
  .tuple(
    validPoint,
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...POINT_KEYS), fc.string({ maxLength: 12 }), fc.constant("__proto__")),
        badValue,
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([point, changes]) => {
    const copy: Record<string, unknown> = { ...point };
    for (const [key, value] of changes)
      Object.defineProperty(copy, key, { value, enumerable: true, writable: true });
    return copy;
  });

export const anyPoint = fc.oneof(
  { arbitrary: validPoint, weight: 2 },
  { arbitrary: mutatedPoint, weight: 3 },
);

export const batch = fc.oneof(
  fc.array(anyPoint, { maxLength: 20 }).map((metrics) => ({ metrics })),
  fc.array(validPoint, { minLength: 1, maxLength: 20 }).map((metrics) => ({ metrics })),
  fc
    .tuple(fc.integer({ min: MAX_BATCH - 2, max: MAX_BATCH + 20 }), validPoint)
    .map(([n, point]) => ({ metrics: Array.from({ length: n }, (_, step) => ({ ...point, step })) })),
  fc.record({ metrics: badValue }),
  fc
    .tuple(validPoint, fc.array(validPoint, { maxLength: 3 }))
    .map(([point, metrics]) => ({ ...point, metrics })),
);

export const anyBody: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue(), weight: 2 },
  { arbitrary: anyPoint, weight: 4 },
  { arbitrary: batch, weight: 3 },
  { arbitrary: badValue, weight: 1 },
);

export const statusBody = fc.record(
  {
    status: fc.oneof(fc.constantFrom("running", "completed", "failed", "stopped"), badValue),
    message: fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), longString, badValue),
    artifact_uri: fc.oneof(
      fc.constantFrom("hf://owner/repo", "pod://abc/output", "runpod-volume://v1/out"),
      fc.webUrl(),
      fc.string({ unit: "binary", maxLength: 60 }).map((s) => `hf://${s}`),
      badValue,
    ),
  },
  { requiredKeys: [] },
);
