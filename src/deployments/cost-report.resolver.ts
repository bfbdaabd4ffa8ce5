import { Arg, Authorized, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import type { CostReportService } from "./cost-report.service";
import { CostReport } from "./cost-report.types";

@Resolver()
export class CostResolver {
  constructor(private readonly reports: CostReportService) {}

  @Authorized()
  @Query(() => CostReport, {
    description:
      "what the caller's deployments cost from `from` (default: the start of this UTC month) to `to` (default: now); runs straddling an edge are prorated",
  })
  costs(
    @CurrentUser() userId: string,
    @Arg("from", () => Date, { nullable: true }) from: Date | null,
    @Arg("to", () => Date, { nullable: true }) to: Date | null,
  ): Promise<CostReport> {
    return this.reports.report(userId, from, to);
  }
}
