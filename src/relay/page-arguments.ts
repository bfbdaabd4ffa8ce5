import { Kind, type GraphQLResolveInfo } from "graphql";
import { badInput } from "../errors/app-error";

/** The most items one page of a connection may hold (`first` and `last` alike). */
export const MAX_PAGE_SIZE = 100;
/** The page size when neither `first` nor `last` is given. */
export const DEFAULT_PAGE_SIZE = 20;

/** A connection's page as the client asked for it; `first` is undefined when the query did not give it. */
export interface PageArguments {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/**
 * Whether the query gave the argument itself, rather than the schema's default filling it in. `first: Int = 20`
 * is the contract, yet Relay asks for `deployments(last: 5, before: $cursor)`, where the spec takes the first 20
 * and then the last 5 of those; so `first`'s default holds only when `last` is absent, and this tells them apart.
 */
export function argumentGiven(info: GraphQLResolveInfo, name: string): boolean {
  const argument = info.fieldNodes[0].arguments?.find((node) => node.name.value === name);
  if (!argument) return false;
  return (
    argument.value.kind !== Kind.VARIABLE || Object.hasOwn(info.variableValues, argument.value.name.value)
  );
}

/**
 * The page sizes of the Relay cursor connections spec: `first` and `last` as given (each 0..MAX_PAGE_SIZE,
 * either, both or neither), and `first` = DEFAULT_PAGE_SIZE when neither is.
 */
export function pageSizes(page: PageArguments): { first: number | null; last: number | null } {
  const size = (name: "first" | "last", value: number | null | undefined): number | null => {
    if (value == null) return null;
    if (!Number.isInteger(value) || value < 0 || value > MAX_PAGE_SIZE) {
      throw badInput(name, `must be from 0 to ${MAX_PAGE_SIZE}`);
    }
    return value;
  };
  const first = size("first", page.first);
  const last = size("last", page.last);
  return { first: first ?? (last === null ? DEFAULT_PAGE_SIZE : null), last };
}
