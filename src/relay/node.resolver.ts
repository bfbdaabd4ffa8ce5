import { Arg, Authorized, Ctx, ID, Query, Resolver } from "type-graphql";
import { CurrentUser, type GatewayContext } from "../auth/context";
import { badInput } from "../errors/app-error";
import { nodeById } from "./node-finder";
import { MAX_NODE_IDS, Node } from "./node.types";

/** Relay's `node` and `nodes`: any of the caller's objects by id, through the request's node loader. */
@Resolver()
export class NodeResolver {
  @Authorized()
  @Query(() => Node, {
    nullable: true,
    description: "the caller's object with this id; null for unknown, malformed and other callers' ids alike",
  })
  node(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the id of any object that implements Node" }) id: string,
    @Ctx() ctx: GatewayContext,
  ): Promise<object | null> {
    return ctx.loaders.get(nodeById).load({ userId, id });
  }

  @Authorized()
  @Query(() => [Node], {
    nullable: "items",
    description: "the caller's objects with these ids, in the same order; null where `node(id)` is null",
  })
  nodes(
    @CurrentUser() userId: string,
    @Arg("ids", () => [ID], { description: `at most ${MAX_NODE_IDS} ids of objects that implement Node` })
    ids: string[],
    @Ctx() ctx: GatewayContext,
  ): Promise<(object | null)[]> {
    if (ids.length > MAX_NODE_IDS) throw badInput("ids", `at most ${MAX_NODE_IDS} ids per query`);
    const loader = ctx.loaders.get(nodeById);
    return Promise.all(ids.map((id) => loader.load({ userId, id })));
  }
}
