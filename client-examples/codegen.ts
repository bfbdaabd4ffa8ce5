/**
 * graphql-codegen for the TypeScript examples: typed documents from the committed schema.
 *
 *   npm run codegen            # regenerates client-examples/gql/ (after a schema or a document changed)
 *   npm run codegen -- --check # exits 1, naming the stale files, when client-examples/gql/ is out of date
 *
 * The client preset turns each `graphql(`…`)` document in the examples into a `TypedDocumentNode` whose result
 * and variables types come from schema/schema.graphql, so graphql-request (and Apollo, urql) type the answer.
 */
import path from "node:path";
import type { CodegenConfig } from "@graphql-codegen/cli";

const here = (file: string) => path.relative(process.cwd(), path.join(__dirname, file));

const config: CodegenConfig = {
  schema: here("../schema/schema.graphql"),
  documents: [here("*.ts"), `!${here("codegen.ts")}`],
  ignoreNoDocuments: false,
  generates: {
    [`${here("gql")}/`]: {
      preset: "client",
      presetConfig: {
        // The examples read whole answers; fragments are for reuse here, not for hiding data from components.
        fragmentMasking: false,
      },
      config: {
        // What the gateway sends: ISO-8601 strings for DateTime, plain JSON objects for JSONObject.
        scalars: {
          DateTime: "string",
          JSONObject: "Record<string, unknown>",
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
