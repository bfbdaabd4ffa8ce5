import { getArgumentValues, type GraphQLObjectType, type GraphQLResolveInfo } from "graphql";
import { collectSubfields } from "graphql/execution/collectFields";
import { Arg, Authorized, FieldResolver, Info, Int, Query, Resolver, Root } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { MAX_FIRST, type CostReportService } from "./cost-report.service";
import { CostReport, DeploymentCost } from "./cost-report.types";

const DEFAULT_FIRST = 100;

@Resolver(() => CostReport)
export class CostResolver {
  constructor(private readonly reports: CostReportService) {}

  @Authorized()
  @Query(() => CostReport, {
    description:
      "what the caller's deployments cost from `from` (default: the start of this UTC month) to `to` (default: now); runs straddling an edge are prorated",
  })
  async costs(
    @CurrentUser() userId: string,
    @Arg("from", () => Date, {
      description: "start of the range; default: the start of this UTC month",
      nullable: true,
    })
    from: Date | null,
    @Arg("to", () => Date, { description: "end of the range; default: now", nullable: true }) to: Date | null,
    @Info() info: GraphQLResolveInfo,
  ): Promise<CostReport> {
    const range = this.reports.range(userId, from, to);
    // The lists the query asks for are read beside the totals, not after them: one round trip, not two.
    const firsts = [...new Set(deploymentsAskedFor(info))];
    const [report, ...lists] = await Promise.all([
      this.reports.summarize(range),
      ...firsts.map((first) => this.reports.deployments(range, first)),
    ]);
    report.ranked = new Map(firsts.map((first, i) => [first, lists[i]]));
    return report;
  }

  @FieldResolver(() => [DeploymentCost])
  deployments(
    @Root() report: CostReport,
    @Arg("first", () => Int, {
      nullable: true,
      defaultValue: DEFAULT_FIRST,
      description: `how many, 0..${MAX_FIRST}`,
    })
    first: number | null,
  ): Promise<DeploymentCost[]> | DeploymentCost[] {
    const size = first ?? DEFAULT_FIRST;
    return report.ranked?.get(size) ?? this.reports.deployments(report, size);
  }
}

/**
 * The `first` of each `deployments` field the query selects on this report, as execution will coerce it
 * (fragments, variables, defaults, `@skip`/`@include` applied). A value that would not coerce is left out: the
 * field's own resolver then answers with the error.
 */
function deploymentsAskedFor(info: GraphQLResolveInfo): number[] {
  const type = info.schema.getType("CostReport") as GraphQLObjectType;
  const field = type.getFields().deployments;
  const selected = collectSubfields(info.schema, info.fragments, info.variableValues, type, info.fieldNodes);
  const firsts: number[] = [];
  for (const nodes of selected.values()) {
    if (nodes[0].name.value !== "deployments") continue;
    try {
      const { first } = getArgumentValues(field, nodes[0], info.variableValues) as { first?: number | null };
      const size = first ?? DEFAULT_FIRST;
      if (Number.isInteger(size) && size >= 0 && size <= MAX_FIRST) firsts.push(size);
    } catch {
      // Not coercible here: the field's resolver reports it.
    }
  }
  return firsts;
}
