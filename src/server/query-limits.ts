import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import {
  getArgumentValues,
  getNamedType,
  getVariableValues,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { ErrorCode } from "../errors/app-error";

/**
 * Bounds on what one GraphQL document may ask for. The same parser option, validation rules and cost check run
 * on HTTP and on WebSocket, so neither transport is a way around them.
 */
export interface QueryLimits {
  /** Tokens the parser reads before giving up. */
  maxTokens: number;
  /** Nesting depth of selections (fragments expanded; `__schema` introspection not counted). */
  maxDepth: number;
  /** Aliased fields in one operation, fragments expanded at each spread. */
  maxAliases: number;
  /** Directives in one operation, fragments expanded at each spread. */
  maxDirectives: number;
  /** Estimated cost: each field costs 1, times the page size of every list above it. */
  maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxTokens: 5_000,
  maxDepth: 12,
  maxAliases: 30,
  maxDirectives: 50,
  maxCost: 50_000,
};

/**
 * Tokens: graphql-js's own parser option, in the parse Apollo and the WebSocket server already do (its error is
 * coded QUERY_TOO_COMPLEX in format-error.ts). graphql-armor's max-tokens counts the same tokens through a Proxy
 * over that parser's lexer, which makes parsing 2.3-2.9x as slow (bench/query-limits.ts), and its Apollo plugin
 * parses every new document a second time in `parsingDidStart`, where a refusal is a thrown error: Apollo answers
 * it with HTTP 500 and GRAPHQL_VALIDATION_FAILED, for the whole request (every operation of a batch).
 */
export function queryParseOptions(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/**
 * Depth, aliases and directives: graphql-armor's validation rules, refusing with our code and a message that
 * names the limit and what the document has. Field suggestions ("Did you mean …?") stay on: the schema is
 * public (introspection, the playground, schema/schema.graphql), so hiding them would hide nothing and only make
 * the playground's errors less helpful. Cost is not a validation rule: see `queryCostError`.
 */
export function queryLimitRules(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule[] {
  const refuse = (describe: (found: string) => string) => ({
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) =>
        context?.reportError(tooComplex(describe(found(error)))),
    ],
  });
  return new ApolloArmor({
    maxDepth: {
      n: limits.maxDepth,
      // Introspection walks the finite schema; graphql-js's MaxIntrospectionDepthRule (a specified rule) bounds
      // its nesting, and GraphiQL's and codegen's introspection nests past any data query's depth.
      ignoreIntrospection: true,
      // A fragment is a way to write its fields, not a level of the result.
      flattenFragments: true,
      ...refuse(
        (depth) => `the query is nested ${depth} levels deep; at most ${limits.maxDepth} are allowed`,
      ),
    },
    maxAliases: {
      n: limits.maxAliases,
      ...refuse((count) => `the query uses ${count} aliases; at most ${limits.maxAliases} are allowed`),
    },
    maxDirectives: {
      n: limits.maxDirectives,
      ...refuse((count) => `the query uses ${count} directives; at most ${limits.maxDirectives} are allowed`),
    },
    costLimit: { enabled: false },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect().validationRules;
}

/**
 * What an armor rule found, from its message ("Query depth limit of 12 exceeded, found 14."): its reject hook is
 * given only the error.
 */
function found(error: GraphQLError): string {
  return /found (\d+)\.$/.exec(error.message)?.[1] ?? "more than allowed";
}

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } });
}

/**
 * Cost, checked once the variables are known. graphql-armor's cost-limit runs during validation, which has no
 * variables, so a page size passed as `$n` cannot count as n; it also multiplies only by literal `first`/`last`
 * (not `limit` or `maxPoints`, nor an argument's schema default) and weighs each level by a depth factor
 * (`depthCostFactor`) rather than by the rows a list returns. Hence this estimate, run on the coerced variable
 * values after validation, per request (a validated document is cached; its variables are not).
 *
 * QUERY_TOO_COMPLEX when the operation's estimated cost exceeds `maxCost`; nothing when it does not, or when the
 * variables do not coerce (execution refuses those with BAD_USER_INPUT).
 */
export function queryCostError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): GraphQLError | undefined {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return undefined;
  const cost = estimateCost(schema, document, operation, coerced.coerced);
  if (cost <= limits.maxCost) return undefined;
  const count = (n: number) => n.toLocaleString("en-US");
  return tooComplex(
    `the query's estimated cost is ${count(cost)}; at most ${count(limits.maxCost)} is allowed`,
  );
}

/** `queryCostError` for Apollo, once the operation is resolved: the same refusal, with HTTP 400 like validation's. */
export function queryCostPlugin<Context extends object>(
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): ApolloServerPlugin<Context> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ schema, document, operation, request }) => {
          const error = operation && queryCostError(schema, document, operation, request.variables, limits);
          if (error) {
            throw new GraphQLError(error.message, {
              extensions: { ...error.extensions, http: { status: 400 } },
            });
          }
          return Promise.resolve();
        },
      }),
  };
}

/** Arguments that size the list a field answers: page sizes, and `nodes(ids)`, whose list is as long as `ids`. */
const PAGE_ARGUMENTS = ["maxPoints", "first", "last", "limit", "ids"];

/**
 * Each field costs 1, and what is selected under a list costs its page size times over. `variables` are the
 * coerced values (graphql-js's `getVariableValues`), a variable's own default applied.
 */
export function estimateCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  // A fragment costs the same wherever it is spread: each is counted once, so nested spreads stay linear.
  const fragmentCosts = new Map<string, number>();

  const selectionCost = (set: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
    let cost = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        cost += 1;
        // Introspection walks the finite schema, its nesting bounded by graphql-js's MaxIntrospectionDepthRule.
        if (!selection.selectionSet || selection.name.value.startsWith("__")) continue;
        const field =
          isObjectType(parent) || isInterfaceType(parent)
            ? parent.getFields()[selection.name.value]
            : undefined;
        if (!field) continue; // validation has refused it
        cost +=
          pageSize(field, selection, variables) *
          selectionCost(selection.selectionSet, getNamedType(field.type));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        cost += selectionCost(selection.selectionSet, type);
      } else {
        const name = selection.name.value;
        let fragmentCost = fragmentCosts.get(name);
        const fragment = fragments.get(name);
        if (fragmentCost === undefined && fragment) {
          fragmentCosts.set(name, 0); // a cycle (refused by validation) adds nothing
          fragmentCost = selectionCost(
            fragment.selectionSet,
            schema.getType(fragment.typeCondition.name.value),
          );
          fragmentCosts.set(name, fragmentCost);
        }
        cost += fragmentCost ?? 0;
      }
    }
    return cost;
  };

  return selectionCost(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined);
}

/**
 * The rows a list field may return: its page argument's value as execution sees it (a variable's coerced value,
 * else the schema default; an explicit null is the default too, as the resolvers read it); 1 without one.
 */
function pageSize(
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
  variables: Record<string, unknown>,
): number {
  if (!field.args.some((arg) => PAGE_ARGUMENTS.includes(arg.name))) return 1;
  let args: Record<string, unknown>;
  try {
    args = getArgumentValues(field, node, variables);
  } catch {
    return 1; // execution refuses this field's arguments itself (a null for a non-null argument)
  }
  if (Array.isArray(args.ids)) return Math.max(1, args.ids.length);
  const size = (name: string): number | undefined => {
    const value = args[name] ?? field.args.find((arg) => arg.name === name)?.defaultValue;
    return typeof value === "number" ? Math.max(1, value) : undefined;
  };
  // `metrics` ignores `limit` when `maxPoints` is given.
  const points = size("maxPoints");
  if (points !== undefined) return points;
  // A connection paged backward: `first`'s default applies only when `last` is absent (the deployments
  // resolver reads it so), and `first` written beside `last` bounds the page too (the Relay algorithm).
  const last = typeof args.last === "number" ? Math.max(1, args.last) : undefined;
  if (last !== undefined) {
    const first = node.arguments?.some((arg) => arg.name.value === "first") ? size("first") : undefined;
    return first === undefined ? last : Math.min(first, last);
  }
  return size("first") ?? size("limit") ?? 1;
}
