import fc from "fast-check";
import {
  FIELD,
  MAX_STEP,
  anyBody,
  badValue,
  statusBody,
  validPoint,
} from "../../test/support/callback-arbitraries";
import {
  MAX_BATCH,
  PayloadError,
  parseMetricsBody,
  parseStatusBody,
  type MetricPoint,
} from "./metric-payload";

/**
 * Property-based tests of the pod callback parsers (`POST /api/training/jobs/:jobId/metrics` and `/status`): whatever the body, the
 * parser either answers points that keep the documented invariants or throws a PayloadError naming a field,
 * and never anything else.
 */

/** The invariants a stored point keeps; answers the first one broken, or null. */
function brokenInvariant(point: MetricPoint): string | null {
  if (!(Number.isInteger(point.step) && point.step >= 0 && point.step <= MAX_STEP)) return "step";
  if (!(point.progress === null || (point.progress >= 0 && point.progress <= 100))) return "progress";
  for (const seconds of [point.elapsedSeconds, point.remainingSeconds]) {
    if (!(seconds === null || (Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_STEP)))
      return "seconds";
  }
  if (typeof point.nonFinite !== "boolean") return "nonFinite";
  for (const [key, value] of Object.entries(point)) {
    if (key === "nonFinite") continue;
    if (!(value === null || (typeof value === "number" && Number.isFinite(value)))) return key;
  }
  return null;
}

function expectValidPoints(points: MetricPoint[]): void {
  // One expect for the whole batch: jest's matchers cost more than the parser itself.
  expect(points.map(brokenInvariant).filter((broken) => broken !== null)).toEqual([]);
}

/** Runs `parse`; a PayloadError must name a field the body has, anything else thrown fails the property. */
function outcome<T>(parse: () => T, field: RegExp): T | PayloadError {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof PayloadError)) throw error;
    expect(error.field).toMatch(field);
    expect(error.message.startsWith(`${error.field}: `)).toBe(true);
    return error;
  }
}

describe("parseMetricsBody, fuzzed", () => {
  it("answers valid points or a PayloadError naming a field, for any body", () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        const result = outcome(() => parseMetricsBody(body), FIELD);
        if (result instanceof PayloadError) return;
        expectValidPoints(result);
        const isBatch = typeof body === "object" && body !== null && "metrics" in body;
        expect(result.length).toBeGreaterThanOrEqual(1);
        expect(result.length).toBeLessThanOrEqual(isBatch ? MAX_BATCH : 1);
      }),
      { numRuns: 3000 },
    );
  });

  it("accepts every valid point and batch as sent", () => {
    fc.assert(
      fc.property(
        fc.array(validPoint, { minLength: 1, maxLength: MAX_BATCH }),
        fc.boolean(),
        (points, single) => {
          const body = single ? points[0] : { metrics: points };
          const parsed = parseMetricsBody(JSON.parse(JSON.stringify(body)));
          expect(parsed.map((p) => p.step)).toEqual(
            (single ? points.slice(0, 1) : points).map((p) => p.step),
          );
          expectValidPoints(parsed);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a point whose step is not an integer in 0..2^31-1, naming its step", () => {
    fc.assert(
      fc.property(
        validPoint,
        fc.oneof(
          fc.integer({ max: -1 }),
          fc.integer({ min: 1, max: MAX_STEP }).map((n) => MAX_STEP + n),
          fc.double().filter((d) => !Number.isInteger(d)),
          fc.string(),
          fc.constant(null),
          fc.constant(undefined),
        ),
        (point, step) => {
          const result = outcome(() => parseMetricsBody({ ...point, step }), FIELD);
          expect(result).toBeInstanceOf(PayloadError);
          expect((result as PayloadError).field).toBe("body.step");
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** Text PostgreSQL stores as it is: no NUL, and well-formed UTF-16 (a lone surrogate does not survive UTF-8). */
const storable = (text: string | null): boolean =>
  text === null || (!text.includes("\u0000") && Buffer.from(text, "utf8").toString("utf8") === text);

describe("parseStatusBody, fuzzed", () => {
  it("answers a storable report or a PayloadError naming a field, for any body", () => {
    fc.assert(
      fc.property(fc.oneof(statusBody, fc.jsonValue(), badValue), (body) => {
        const result = outcome(() => parseStatusBody(body), /^(?:body|status|message|artifact_uri)$/);
        if (result instanceof PayloadError) return;
        expect(["running", "completed", "failed", "stopped"]).toContain(result.status);
        expect(result.message === null || result.message.length <= 4001).toBe(true);
        expect(result.artifactUri === null || result.artifactUri.length <= 2048).toBe(true);
        expect([storable(result.message), storable(result.artifactUri)]).toEqual([true, true]);
      }),
      {
        numRuns: 2000,
        // Found by this property: each was a 500 from PostgreSQL (NUL in text, lone surrogate in jsonb).
        examples: [
          [{ status: "failed", message: "CUDA error\u0000\u0000" }],
          [{ status: "failed", message: `${"\u{1F600}".repeat(2500)}!` }],
          [{ status: "completed", artifact_uri: "hf://owner/repo\u0000" }],
          [{ status: "completed", artifact_uri: "hf://owner/\ud800" }],
        ],
      },
    );
  });
});
