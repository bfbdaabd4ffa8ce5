import { Field, ID, InterfaceType } from "type-graphql";
import type { Loaders } from "../auth/context";

/**
 * Relay's object identification: every type with an id implements it, so `node(id)` can refetch any object a
 * client holds. The ids are the ones each type always had, kept because clients store them: UUIDs (unique across
 * tables), a metric's `<jobId>:<step>`, an event's number, and the user's token subject, which answers only for
 * the caller themself.
 */
@InterfaceType("Node", {
  description: "an object with a globally unique id, which `node(id)` refetches (Relay)",
})
export abstract class Node {
  @Field(() => ID, { description: "the object's globally unique id" })
  id: string;
}

/** The most ids one `nodes` query may ask for. */
export const MAX_NODE_IDS = 100;

/**
 * How one domain answers `node(id)` for its types. The composition hands every domain's source to the node
 * resolver, which asks them all and knows none of them.
 */
export interface NodeSource {
  /**
   * The caller's objects among `ids`, by id: ids another caller owns, unknown ids and ids of other types are
   * left out alike. Each value is an instance of a class that implements `Node` (type-graphql resolves the
   * concrete type by `instanceof`). Called once per batch, so one query per type, however many ids.
   */
  find(userId: string, ids: readonly string[], loaders: Loaders): Promise<ReadonlyMap<string, object>>;
}
