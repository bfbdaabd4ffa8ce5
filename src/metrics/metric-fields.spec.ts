import { readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, type GraphQLObjectType } from "graphql";
import { getMetadataArgsStorage } from "typeorm";
import { METRIC_FIELDS } from "./metric-fields";
import { parsePoint } from "./metric-payload";
import { TrainingMetric } from "./training-metric.entity";

const ROOT = path.resolve(__dirname, "../..");
const properties = METRIC_FIELDS.map((field) => field.property);
const keys = METRIC_FIELDS.map((field) => field.key);

describe("METRIC_FIELDS, the one list of a metric point's values", () => {
  it("is what the stored entity has, besides its key, its non-finite mark and its timestamp", () => {
    const columns = getMetadataArgsStorage()
      .columns.filter((column) => column.target === TrainingMetric)
      .map((column) => column.propertyName);
    expect(columns).toEqual(["jobId", "step", ...properties, "nonFinite", "recordedAt"]);
  });

  it("is what the committed GraphQL type TrainingMetric offers, besides its identity, mark and timestamp", () => {
    const schema = buildSchema(readFileSync(path.join(ROOT, "schema/schema.graphql"), "utf8"));
    const type = schema.getType("TrainingMetric") as GraphQLObjectType;
    const fields = Object.keys(type.getFields()).filter(
      (name) => !["id", "jobId", "step", "nonFinite", "timestamp"].includes(name),
    );
    expect(fields.sort()).toEqual([...properties].sort());
  });

  it("is what the pod's reporter sends (trainer-scripts/metrics_reporter.py POINT_KEYS), in the same order", () => {
    const reporter = readFileSync(path.join(ROOT, "trainer-scripts/metrics_reporter.py"), "utf8");
    const block = /^POINT_KEYS[^=]*=\s*\(([^)]*)\)/m.exec(reporter);
    expect(block).not.toBeNull();
    const sent = [...block![1].matchAll(/"([a-z_]+)"/g)].map((match) => match[1]);
    expect(sent).toEqual(["step", ...keys]);
  });

  it("drives the parser: every key is read into its property", () => {
    const raw = Object.fromEntries(keys.map((key, index) => [key, index + 1]));
    const point = parsePoint({ step: 7, ...raw }, "body");
    expect(point).toEqual({
      step: 7,
      nonFinite: false,
      ...Object.fromEntries(properties.map((p, index) => [p, index + 1])),
    });
  });
});
