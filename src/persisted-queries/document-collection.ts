import {
  Kind,
  parse,
  print,
  validate,
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
} from "graphql";
import ts from "typescript";
import type { DocumentToRegister } from "./persisted-document.registry";

/** A string constant of a source file: its name and its value exactly as the program has it at run time. */
export interface SourceString {
  name: string;
  /** The value, or why it could not be worked out from the source alone (with the text read up to there). */
  value: string | { unresolved: string; text: string };
  /** Written as GraphQL (a `gql`/`graphql` tag or a `/* GraphQL *\/` comment): it must be a valid document. */
  marked: boolean;
}

/** A document a client sends starts with its operation's keyword (after any `#` comment lines). */
const OPERATION_START = /^(\s*#[^\n]*\n)*\s*(query|mutation|subscription)\b/;

/** A mistake in a client's documents that registering would hide: it names the file and the constant. */
export class DocumentCollectionError extends Error {
  override name = "DocumentCollectionError";
}

/**
 * The operations among `strings` (found in `source`), checked against `schema`: every string that is written as
 * GraphQL or starts like an operation must parse and validate, or this throws naming the file and the constant.
 * Fragments on their own are not sent, so they are not registered.
 */
export function operationDocuments(
  source: string,
  strings: readonly SourceString[],
  schema: GraphQLSchema,
): DocumentToRegister[] {
  const documents: DocumentToRegister[] = [];
  for (const { name, value, marked } of strings) {
    const where = `${source}: ${name}`;
    if (typeof value !== "string") {
      if (marked || OPERATION_START.test(value.text)) {
        throw new DocumentCollectionError(`${where}: ${value.unresolved}`);
      }
      continue;
    }
    if (!marked && !OPERATION_START.test(value)) continue;
    let ast;
    try {
      ast = parse(value);
    } catch (error) {
      throw new DocumentCollectionError(`${where} does not parse: ${(error as GraphQLError).message}`);
    }
    const operations = ast.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    if (operations.length === 0) continue;
    const errors = validate(schema, ast);
    if (errors.length > 0) {
      const messages = errors.map((error) => error.message).join("; ");
      throw new DocumentCollectionError(`${where} does not validate against the schema: ${messages}`);
    }
    const names = operations.map((operation) => operation.name?.value ?? "(anonymous)");
    documents.push({ document: value, operationName: names.join(", "), source });
  }
  return documents;
}

/** The string constants of a file, by its extension (`.ts`, `.py`); none for other files. */
export function sourceStrings(file: string, text: string): SourceString[] {
  if (file.endsWith(".ts")) return typescriptStrings(file, text);
  if (file.endsWith(".py")) return pythonStrings(text);
  return [];
}

/** The exported values of a loaded module that are strings (the dashboard's operations module). */
export function moduleStrings(exports: Record<string, unknown>): SourceString[] {
  return Object.entries(exports).flatMap(([name, value]) =>
    typeof value === "string" ? [{ name, value, marked: false }] : [],
  );
}

/**
 * The top-level `const`s of a TypeScript file whose value is a string literal, a template or a document's syntax
 * tree in JSON (graphql-codegen's output, taken printed), worked out from the
 * syntax tree: a substitution may name another such constant of the same file (`${DEPLOYMENT_FIELDS}`), nothing
 * else. Template text is taken cooked, as the program sees it (graphql-request's `gql` and graphql-ws send it
 * as it is).
 */
export function typescriptStrings(file: string, text: string): SourceString[] {
  const sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const initializers = new Map<string, ts.Expression>();
  for (const statement of sourceFile.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (ts.isIdentifier(declaration.name) && declaration.initializer) {
        initializers.set(declaration.name.text, declaration.initializer);
      }
    }
  }
  const evaluate = (
    expression: ts.Expression,
    seen: ReadonlySet<string>,
  ): SourceString["value"] | undefined => {
    if (ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression))
      return expression.text;
    if (ts.isParenthesizedExpression(expression) || ts.isAsExpression(expression)) {
      return evaluate(expression.expression, seen);
    }
    if (ts.isTaggedTemplateExpression(expression)) return evaluate(expression.template, seen);
    if (ts.isObjectLiteralExpression(expression)) return printedDocument(expression.getText(sourceFile));
    if (ts.isIdentifier(expression)) {
      const initializer = initializers.get(expression.text);
      if (!initializer || seen.has(expression.text)) return undefined;
      return evaluate(initializer, new Set([...seen, expression.text]));
    }
    if (!ts.isTemplateExpression(expression)) return undefined;
    let value = expression.head.text;
    for (const span of expression.templateSpans) {
      const part = evaluate(span.expression, seen);
      if (typeof part !== "string") {
        const unresolved = `cannot work out \${${span.expression.getText(sourceFile)}} from this file alone`;
        return typeof part === "object" ? part : { unresolved, text: value };
      }
      value += part + span.literal.text;
    }
    return value;
  };
  const strings: SourceString[] = [];
  for (const [name, initializer] of initializers) {
    const value = evaluate(initializer, new Set([name]));
    if (value === undefined) continue;
    strings.push({ name, value, marked: isMarkedGraphql(initializer, sourceFile) });
  }
  return strings;
}

/**
 * A document written out as its syntax tree in JSON, as graphql-codegen's client preset generates them
 * (`export const DeployDocument = {"kind":"Document",…}`): what a client sends is graphql's `print` of it
 * (graphql-request, and graphql-ws in the examples), so that text is what is hashed and registered.
 */
function printedDocument(text: string): string | undefined {
  let ast: unknown;
  try {
    ast = JSON.parse(text);
  } catch {
    return undefined;
  }
  return (ast as DocumentNode | null)?.kind === Kind.DOCUMENT ? print(ast as DocumentNode) : undefined;
}

/** A `gql`/`graphql` tagged template, or a literal preceded by a `/* GraphQL *\/` comment. */
function isMarkedGraphql(initializer: ts.Expression, sourceFile: ts.SourceFile): boolean {
  if (ts.isTaggedTemplateExpression(initializer) && ts.isIdentifier(initializer.tag)) {
    return ["gql", "graphql"].includes(initializer.tag.text);
  }
  // The trivia between `=` and the literal: comments on the same line are no "leading comments" to ts.
  return /\/\*\s*GraphQL\s*\*\//i.test(
    sourceFile.text.slice(initializer.pos, initializer.getStart(sourceFile)),
  );
}

/** Python's escapes that a GraphQL document may use; any other makes the string unresolved. */
const PYTHON_ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", "\n": "" };

/**
 * The module-level string assignments of a Python file (`NAME = """..."""`, `NAME = "..."`), with their escapes
 * read as Python reads them. An f-string or a bytes literal, or an escape beyond the plain ones, is unresolved.
 */
export function pythonStrings(text: string): SourceString[] {
  const strings: SourceString[] = [];
  const assignment = /^([A-Za-z_]\w*)(?:\s*:[^=\n]+)?\s*=\s*([rRuUbBfF]{0,2})("""|'''|"|')/gm;
  for (const match of text.matchAll(assignment)) {
    const [whole, name, prefix, quote] = match;
    const start = match.index + whole.length;
    const raw = /r/i.test(prefix);
    let value = "";
    let unresolved = /[bf]/i.test(prefix) ? `a ${prefix}-string is not a plain string` : undefined;
    let index = start;
    for (; index < text.length && !text.startsWith(quote, index); index++) {
      const char = text[index];
      if (quote.length === 1 && char === "\n") break;
      if (char !== "\\" || raw) {
        value += char;
        continue;
      }
      const next = text[++index];
      const escaped = PYTHON_ESCAPES[next];
      if (escaped === undefined) unresolved ??= `the escape \\${next} is not read here`;
      value += escaped ?? "";
    }
    if (!text.startsWith(quote, index)) continue; // not a complete literal on its own
    strings.push({ name, value: unresolved ? { unresolved, text: value } : value, marked: false });
  }
  return strings;
}
