import { readFileSync } from "node:fs";
import path from "node:path";
import {
  buildSchema,
  findBreakingChanges,
  isEnumType,
  isInputObjectType,
  isObjectType,
  isScalarType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import { buildGatewaySchema, printGatewaySchema } from "../src/server/schema";

const root = path.resolve(__dirname, "..");
let emitted: GraphQLSchema;
beforeAll(async () => {
  emitted = await buildGatewaySchema();
});

describe("schema/schema.graphql", () => {
  it("is exactly what the code emits (run `npm run schema:emit` after changing a type)", () => {
    const committed = readFileSync(path.join(root, "schema/schema.graphql"), "utf8");
    expect(printGatewaySchema(emitted)).toBe(committed);
  });

  it("says which spec each custom scalar follows (@specifiedBy), for generated clients", () => {
    for (const name of ["DateTime", "JSONObject"]) {
      const scalar = emitted.getType(name);
      expect(isScalarType(scalar) && scalar.specifiedByURL).toMatch(/^https?:\/\//);
    }
  });

  it("describes every type, field, argument, input field and enum value, as GraphiQL's docs pane shows them", () => {
    const missing: string[] = [];
    const need = (what: string, description: string | null | undefined): void => {
      if (!description?.trim()) missing.push(what);
    };
    for (const type of Object.values(emitted.getTypeMap())) {
      if (type.name.startsWith("__") || ["String", "Int", "Float", "Boolean", "ID"].includes(type.name))
        continue;
      need(type.name, type.description);
      if (isObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          need(`${type.name}.${field.name}`, field.description);
          for (const arg of field.args) need(`${type.name}.${field.name}(${arg.name})`, arg.description);
        }
      } else if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields()))
          need(`${type.name}.${field.name}`, field.description);
      } else if (isEnumType(type)) {
        for (const value of type.getValues()) need(`${type.name}.${value.name}`, value.description);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe("the public contract (test/fixtures/api-contract.graphql)", () => {
  const contract = buildSchema(readFileSync(path.join(root, "test/fixtures/api-contract.graphql"), "utf8"));

  it("loses nothing: no type, field, argument, enum value or nullability of the contract is missing or changed", () => {
    // A change that would break a client written against the contract is a breaking change from contract to emitted.
    const breaking = findBreakingChanges(contract, emitted).filter(
      // Adding an optional argument or field to the gateway is allowed ("add freely").
      (change) => !/^An optional/.test(change.description),
    );
    expect(breaking.map((c) => `${c.type}: ${c.description}`)).toEqual([]);
  });

  it("declares every operation with its exact arguments, defaults included", () => {
    for (const kind of ["getQueryType", "getMutationType", "getSubscriptionType"] as const) {
      const expected = contract[kind]()!.getFields();
      const actual = emitted[kind]()!.getFields();
      for (const [name, field] of Object.entries(expected)) {
        expect(actual[name]).toBeDefined();
        expect(String(actual[name].type)).toBe(String(field.type));
        const args = (f: typeof field) =>
          Object.fromEntries(
            f.args.map((a) => [a.name, `${String(a.type)} = ${JSON.stringify(a.defaultValue)}`]),
          );
        expect(args(actual[name])).toEqual(args(field));
      }
    }
  });

  it("lists every field's arguments in the contract's order, as SDL, introspection and GraphiQL show them", () => {
    for (const type of Object.values<GraphQLNamedType>(contract.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith("__")) continue;
      const actual = emitted.getType(type.name);
      if (!isObjectType(actual)) continue;
      for (const [name, field] of Object.entries(type.getFields())) {
        const declared = field.args.map((a) => a.name);
        const shown = (actual.getFields()[name]?.args ?? [])
          .map((a) => a.name)
          .filter((a) => declared.includes(a));
        expect(`${type.name}.${name}(${shown.join(", ")})`).toBe(
          `${type.name}.${name}(${declared.join(", ")})`,
        );
      }
    }
  });

  it("gives input fields the same types and defaults", () => {
    for (const type of Object.values<GraphQLNamedType>(contract.getTypeMap())) {
      if (!isInputObjectType(type) || type.name.startsWith("__")) continue;
      const actual = emitted.getType(type.name);
      expect(isInputObjectType(actual)).toBe(true);
      if (!isInputObjectType(actual)) continue;
      for (const [name, field] of Object.entries(type.getFields())) {
        expect(
          `${type.name}.${name}: ${String(actual.getFields()[name]?.type)} = ${JSON.stringify(actual.getFields()[name]?.defaultValue)}`,
        ).toBe(`${type.name}.${name}: ${String(field.type)} = ${JSON.stringify(field.defaultValue)}`);
      }
    }
  });

  it("keeps every object field and enum value", () => {
    for (const type of Object.values<GraphQLNamedType>(contract.getTypeMap())) {
      if (type.name.startsWith("__")) continue;
      const actual = emitted.getType(type.name);
      if (isObjectType(type) && isObjectType(actual)) {
        for (const [name, field] of Object.entries(type.getFields())) {
          expect(`${type.name}.${name}: ${String(actual.getFields()[name]?.type)}`).toBe(
            `${type.name}.${name}: ${String(field.type)}`,
          );
        }
      }
      if (isEnumType(type) && isEnumType(actual)) {
        expect(actual.getValues().map((v) => v.name)).toEqual(type.getValues().map((v) => v.name));
      }
    }
  });
});
