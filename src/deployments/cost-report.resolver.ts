import { Arg, Authorized, FieldResolver, Int, Query, Resolver, Root } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { MAX_FIRST, type CostReportService } from "./cost-report.service";
import { CostReport, DeploymentCost } from "./cost-report.types";

@Resolver(() => CostReport)
export class CostResolver {
  constructor(private readonly reports: CostReportService) {}

  @Authorized()
  @Query(() => CostReport, {
    description:
      "what the caller's deployments cost from `from` (default: the start of this UTC month) to `to` (default: now); runs straddling an edge are prorated",
  })
  costs(
    @CurrentUser() userId: string,
    @Arg("from", () => Date, {
      description: "start of the range; default: the start of this UTC month",
      nullable: true,
    })
    from: Date | null,
    @Arg("to", () => Date, { description: "end of the range; default: now", nullable: true }) to: Date | null,
  ): Promise<CostReport> {
    return this.reports.report(userId, from, to);
  }

  @FieldResolver(() => [DeploymentCost])
  deployments(
    @Root() report: CostReport,
    @Arg("first", () => Int, { nullable: true, defaultValue: 100, description: `how many, 0..${MAX_FIRST}` })
    first: number | null,
  ): Promise<DeploymentCost[]> {
    return this.reports.deployments(report, first ?? 100);
  }
}
