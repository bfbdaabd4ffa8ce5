import { buildSchema } from "graphql";
import {
  DocumentCollectionError,
  operationDocuments,
  pythonStrings,
  typescriptStrings,
  type SourceString,
} from "./document-collection";

const schema = buildSchema(`
  type Query { me: User! }
  type User { id: ID! name: String }
  type Subscription { tick: Int! }
`);

const value = (strings: SourceString[], name: string) => strings.find((s) => s.name === name)?.value;

describe("typescriptStrings", () => {
  it.each([
    ["a gql template", "const Q = gql`query Me { me { id } }`;", "Q", "query Me { me { id } }"],
    ["a marked template", "const Q = /* GraphQL */ `{ me { id } }`;", "Q", "{ me { id } }"],
    ["a plain string", `export const Q = "query { me { id } }";`, "Q", "query { me { id } }"],
    [
      "a template that names another constant of the file",
      "const F = gql`fragment U on User { id }`;\nconst Q = gql`query { me { ...U } }\n${F}`;",
      "Q",
      "query { me { ...U } }\nfragment U on User { id }",
    ],
    ["a template's escapes, cooked", "const Q = `a\\tb\\u0041`;", "Q", "a\tbA"],
  ])("reads %s", (_what, source, name, expected) => {
    expect(value(typescriptStrings("x.ts", source), name)).toBe(expected);
  });

  it("marks gql and /* GraphQL */ templates, and no other string", () => {
    const strings = typescriptStrings(
      "x.ts",
      'const A = gql`{ me { id } }`;\nconst B = /* GraphQL */ `{ me { id } }`;\nconst C = "{ me { id } }";',
    );
    expect(strings.map((s) => [s.name, s.marked])).toEqual([
      ["A", true],
      ["B", true],
      ["C", false],
    ]);
  });

  it("leaves a substitution it cannot work out unresolved, saying which", () => {
    const [q] = typescriptStrings("x.ts", "const Q = gql`query { me { ${fields.join(' ')} } }`;");
    expect(q.value).toEqual({
      unresolved: "cannot work out ${fields.join(' ')} from this file alone",
      text: "query { me { ",
    });
  });
});

describe("pythonStrings", () => {
  it.each([
    ["a triple-quoted string", 'Q = """\nquery { me { id } }\n"""\n', "\nquery { me { id } }\n"],
    ["a one-line string", "Q = 'query { me { id } }'\n", "query { me { id } }"],
    ["an annotated assignment", 'Q: str = "{ me { id } }"\n', "{ me { id } }"],
    ["plain escapes", 'Q = "a\\"b\\\\c\\n"\n', 'a"b\\c\n'],
    ["a raw string", 'Q = r"a\\n"\n', "a\\n"],
  ])("reads %s", (_what, source, expected) => {
    expect(value(pythonStrings(source), "Q")).toBe(expected);
  });

  it("leaves f-strings and unknown escapes unresolved, and skips what is not at module level", () => {
    const strings = pythonStrings('A = f"query {{ me }}"\nB = "\\x41"\n    C = "nested"\n');
    expect(strings.map((s) => [s.name, typeof s.value === "string"])).toEqual([
      ["A", false],
      ["B", false],
    ]);
  });
});

describe("operationDocuments", () => {
  const strings = (entries: [string, SourceString["value"], boolean?][]): SourceString[] =>
    entries.map(([name, v, marked]) => ({ name, value: v, marked: marked ?? false }));

  it("keeps the operations, named, and skips fragments alone and strings that are not GraphQL", () => {
    const found = operationDocuments(
      "client.ts",
      strings([
        ["ME", "query Me { me { id } }"],
        ["TICK", "# live\nsubscription { tick }"],
        ["FIELDS", "fragment U on User { id }", true],
        ["USAGE", "usage: client [--url <url>]"],
        ["JSON", '{"a": 1}'],
      ]),
      schema,
    );
    expect(found).toEqual([
      { document: "query Me { me { id } }", operationName: "Me", source: "client.ts" },
      { document: "# live\nsubscription { tick }", operationName: "(anonymous)", source: "client.ts" },
    ]);
  });

  it.each([
    ["does not validate", strings([["Q", "query { me { nope } }"]]), /client\.py: Q does not validate.*nope/],
    ["does not parse", strings([["Q", "query { me { id }"]]), /client\.py: Q does not parse/],
    [
      "is marked GraphQL but does not parse",
      strings([["Q", "me { id }", true]]),
      /client\.py: Q does not parse/,
    ],
    [
      "starts like an operation but cannot be read",
      strings([["Q", { unresolved: "the escape \\x is not read here", text: "query {" }]]),
      /client\.py: Q: the escape \\x is not read here/,
    ],
  ])("fails, naming the file and the constant, for a document that %s", (_what, given, message) => {
    const run = () => operationDocuments("client.py", given, schema);
    expect(run).toThrow(DocumentCollectionError);
    expect(run).toThrow(message);
  });
});
