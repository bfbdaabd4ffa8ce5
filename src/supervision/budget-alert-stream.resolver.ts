import { Authorized, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { subscriber } from "../auth/context";
import type { BudgetAlertStream } from "./budget-alert-stream";
import { BudgetAlert } from "./budget-alert.types";

@Resolver()
export class BudgetAlertStreamResolver {
  constructor(readonly stream: BudgetAlertStream) {}

  @Authorized()
  @Subscription(() => BudgetAlert, {
    description: "the caller's threshold crossings and budget stops",
    subscribe: (data: SubscribeResolverData<unknown, unknown, object>) => {
      const { userId, resolver } = subscriber(data, BudgetAlertStreamResolver);
      return resolver.stream.subscribe(userId);
    },
  })
  budgetAlerts(@Root() alert: BudgetAlert): BudgetAlert {
    return alert;
  }
}
