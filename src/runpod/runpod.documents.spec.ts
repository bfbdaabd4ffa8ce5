import { readFileSync } from "node:fs";
import path from "node:path";
import {
  Kind,
  TypeInfo,
  type ValueNode,
  getNamedType,
  parse,
  validate,
  visit,
  visitWithTypeInfo,
} from "graphql";
import { buildRunpodSchema } from "./runpod-schema";
import { RUNPOD_DOCUMENTS } from "./runpod.documents";

const schema = buildRunpodSchema();

/** True when a value node holds no literal anywhere: only variables, possibly inside input objects/lists. */
function onlyVariables(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.OBJECT) return value.fields.every((f) => onlyVariables(f.value));
  if (value.kind === Kind.LIST) return value.values.every(onlyVariables);
  return false;
}

describe("RunPod documents", () => {
  it("are the eight operations the client sends", () => {
    expect(Object.keys(RUNPOD_DOCUMENTS).sort()).toEqual(
      [
        "CreatePod",
        "GetPod",
        "GpuOffers",
        "ListPods",
        "NetworkVolumes",
        "ResumePod",
        "StopPod",
        "TerminatePod",
      ].sort(),
    );
  });

  it.each(Object.entries(RUNPOD_DOCUMENTS))(
    "%s parses and validates against schema/runpod.graphql",
    (name, text) => {
      const document = parse(text);
      expect(validate(schema, document)).toEqual([]);
      const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      expect(operations).toHaveLength(1);
      expect(operations[0]?.kind === Kind.OPERATION_DEFINITION && operations[0].name?.value).toBe(name);
    },
  );

  it.each(Object.entries(RUNPOD_DOCUMENTS))("%s carries every value as a variable", (_name, text) => {
    const literals: string[] = [];
    visit(parse(text), {
      Argument(node) {
        if (!onlyVariables(node.value)) literals.push(node.name.value);
      },
    });
    expect(literals).toEqual([]);
  });

  it.each(Object.entries(RUNPOD_DOCUMENTS))(
    "%s declares variables only of RunPod's confirmed input types",
    (_name, text) => {
      const typeNames: string[] = [];
      visit(parse(text), {
        VariableDefinition(node) {
          visit(node.type, { NamedType: (n) => void typeNames.push(n.name.value) });
        },
      });
      for (const name of typeNames) {
        expect([
          "String",
          "Int",
          "Float",
          "Boolean",
          "PodFindAndDeployOnDemandInput",
          "GpuLowestPriceInput",
        ]).toContain(name);
      }
    },
  );

  it.each(Object.entries(RUNPOD_DOCUMENTS))(
    "%s uses no fragment and never selects a pod's env (it echoes the job token)",
    (_name, text) => {
      const document = parse(text);
      expect(document.definitions.map((d) => d.kind)).toEqual([Kind.OPERATION_DEFINITION]);
      const typeInfo = new TypeInfo(schema);
      const podEnv: string[] = [];
      visit(
        document,
        visitWithTypeInfo(typeInfo, {
          InlineFragment: () => void podEnv.push("inline fragment"),
          Field(node) {
            const parent = typeInfo.getParentType();
            if (parent && getNamedType(parent).name === "Pod" && node.name.value === "env")
              podEnv.push("env");
          },
        }),
      );
      expect(podEnv).toEqual([]);
    },
  );

  it("are never built by string interpolation", () => {
    const source = readFileSync(path.join(__dirname, "runpod.documents.ts"), "utf8");
    expect(source).not.toContain("${");
    for (const text of Object.values(RUNPOD_DOCUMENTS)) expect(text).not.toContain("${");
  });

  it("are imported only by the GraphQL client (and tests)", () => {
    const dir = __dirname;
    const importers = [
      "runpod-graphql-client.ts",
      "gpu-offer.service.ts",
      "runpod-client.ts",
      "runpod-graphql.mapping.ts",
      "gpu-catalogue.ts",
      "runpod-schema.ts",
    ].filter((file) => readFileSync(path.join(dir, file), "utf8").includes("./runpod.documents"));
    expect(importers).toEqual(["runpod-graphql-client.ts"]);
  });
});
