import { Arg, Authorized, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { notAvailableYet } from "../errors/app-error";
import { CostReport } from "./cost.types";

@Resolver()
export class CostResolver {
  @Authorized()
  @Query(() => CostReport)
  costs(
    @CurrentUser() _userId: string,
    @Arg("from", () => Date, { nullable: true }) _from: Date | null,
    @Arg("to", () => Date, { nullable: true }) _to: Date | null,
  ): Promise<CostReport> {
    return Promise.reject(notAvailableYet("costs"));
  }
}
