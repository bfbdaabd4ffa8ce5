import {
  GraphQLError,
  Kind,
  type ArgumentNode,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { ErrorCode } from "../errors/app-error";

/**
 * Bounds on what one GraphQL document may ask for. The same rules run on HTTP and on WebSocket, so neither
 * transport is a way around them.
 */
export interface QueryLimits {
  /** Tokens the parser reads before giving up. */
  maxTokens: number;
  /** Nesting depth of selections (fragments expanded). */
  maxDepth: number;
  /** Aliased fields in the whole document. */
  maxAliases: number;
  /** Estimated cost: each field costs 1, times the page size of every list above it. */
  maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxTokens: 5_000,
  maxDepth: 12,
  maxAliases: 30,
  maxCost: 50_000,
};

/** List-size arguments that multiply the cost of everything below the field. */
const PAGE_ARGUMENTS = ["first", "last", "limit", "maxPoints"];
/** List arguments whose length is the size of the list the field answers (`nodes(ids)`). */
const LIST_ARGUMENTS = ["ids"];
/** How deep an introspection query may nest (GraphiQL's and codegen's full introspection is about 15). */
const MAX_INTROSPECTION_DEPTH = 30;
/** Assumed page size when it is given as a variable. */
const LARGE_PAGE = 100;

export function queryLimitRules(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule[] {
  return [depthAndCostRule(limits), aliasRule(limits.maxAliases)];
}

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } });
}

function aliasRule(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias && ++aliases === maxAliases + 1) {
          context.reportError(tooComplex(`the query uses more than ${maxAliases} aliases`));
        }
      },
    };
  };
}

function depthAndCostRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const measure = (
      set: SelectionSetNode,
      depth: number,
      seen: Set<string>,
    ): { depth: number; cost: number } => {
      let maxDepth = depth;
      let cost = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD && selection.name.value.startsWith("__")) {
          // Introspection (__schema, __type) walks the finite schema: tools send it nested 15+ levels deep
          // (TypeRef's ofType chain), and its cost is bounded by the schema and the token limit, not by data.
          if (
            selection.selectionSet &&
            depth + 1 + selectionDepth(selection.selectionSet, fragments) > MAX_INTROSPECTION_DEPTH
          ) {
            maxDepth = Math.max(maxDepth, limits.maxDepth + 1);
          }
          cost += 1;
        } else if (selection.kind === Kind.FIELD) {
          const multiplier = listMultiplier(selection.arguments ?? []);
          cost += 1;
          if (selection.selectionSet) {
            const inner = measure(selection.selectionSet, depth + 1, seen);
            maxDepth = Math.max(maxDepth, inner.depth);
            cost += multiplier * inner.cost;
          }
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const inner = measure(selection.selectionSet, depth, seen);
          maxDepth = Math.max(maxDepth, inner.depth);
          cost += inner.cost;
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || seen.has(name)) continue; // unknown or cyclic: graphql-js reports those itself
          const inner = measure(fragment.selectionSet, depth, new Set([...seen, name]));
          maxDepth = Math.max(maxDepth, inner.depth);
          cost += inner.cost;
        }
        if (maxDepth > limits.maxDepth || cost > limits.maxCost) break;
      }
      return { depth: maxDepth, cost };
    };

    return {
      OperationDefinition(node) {
        const { depth, cost } = measure(node.selectionSet, 1, new Set());
        if (depth > limits.maxDepth) {
          context.reportError(tooComplex(`the query is nested deeper than ${limits.maxDepth} levels`));
        } else if (cost > limits.maxCost) {
          context.reportError(tooComplex(`the query's estimated cost exceeds ${limits.maxCost}`));
        }
        return false;
      },
    };
  };
}

function listMultiplier(args: readonly ArgumentNode[]): number {
  for (const arg of args) {
    if (LIST_ARGUMENTS.includes(arg.name.value)) {
      return arg.value.kind === Kind.LIST ? Math.max(1, arg.value.values.length) : LARGE_PAGE;
    }
    if (!PAGE_ARGUMENTS.includes(arg.name.value)) continue;
    // A page size given as a variable is not known here; assume a large page.
    return arg.value.kind === Kind.INT ? Math.max(1, Number(arg.value.value)) : LARGE_PAGE;
  }
  return 1;
}

/** Nesting depth of a selection set, fragments expanded once. */
function selectionDepth(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  seen = new Set<string>(),
): number {
  let deepest = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.selectionSet)
        deepest = Math.max(deepest, 1 + selectionDepth(selection.selectionSet, fragments, seen));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(deepest, selectionDepth(selection.selectionSet, fragments, seen));
    } else {
      const fragment = fragments.get(selection.name.value);
      if (!fragment || seen.has(selection.name.value)) continue;
      deepest = Math.max(
        deepest,
        selectionDepth(fragment.selectionSet, fragments, new Set([...seen, selection.name.value])),
      );
    }
  }
  return deepest;
}
