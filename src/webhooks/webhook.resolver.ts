import type { GraphQLResolveInfo } from "graphql";
import { Arg, Authorized, ID, Info, Int, Mutation, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { argumentGiven, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../relay/page-arguments";
import { WebhookDelivery } from "./webhook-delivery.entity";
import { Webhook } from "./webhook.entity";
import type { WebhookService } from "./webhook.service";
import { WebhookCreated, WebhookDeliveryConnection, WebhookInput } from "./webhook.types";

@Authorized()
@Resolver(() => Webhook)
export class WebhookResolver {
  constructor(private readonly service: WebhookService) {}

  @Query(() => [Webhook], { description: "the caller's webhooks, oldest first" })
  webhooks(@CurrentUser() userId: string): Promise<Webhook[]> {
    return this.service.list(userId);
  }

  @Query(() => WebhookDeliveryConnection, {
    description: "a webhook's delivery log: every attempt, newest first",
  })
  webhookDeliveries(
    @CurrentUser() userId: string,
    @Arg("webhookId", () => ID, { description: "the webhook" }) webhookId: string,
    @Arg("first", () => Int, {
      description: `page size counted from the newest (after \`after\`), 0..${MAX_PAGE_SIZE}; the default applies only when \`last\` is not given`,
      defaultValue: DEFAULT_PAGE_SIZE,
      nullable: true,
    })
    first: number | null,
    @Arg("after", () => String, {
      description: "a cursor (endCursor of the previous page): only older attempts",
      nullable: true,
    })
    after: string | null,
    @Arg("last", () => Int, {
      description: `page size counted from the oldest (before \`before\`), 0..${MAX_PAGE_SIZE}; for paging backward`,
      nullable: true,
    })
    last: number | null,
    @Arg("before", () => String, {
      description: "a cursor (startCursor of the next page): only newer attempts",
      nullable: true,
    })
    before: string | null,
    @Info() info: GraphQLResolveInfo,
  ): Promise<WebhookDeliveryConnection> {
    return this.service.deliveries(userId, webhookId, {
      first: argumentGiven(info, "first") ? first : undefined,
      after,
      last,
      before,
    });
  }

  @Mutation(() => WebhookCreated, {
    description: "registers an endpoint; the answer holds its signing secret, shown this once only",
  })
  createWebhook(
    @CurrentUser() userId: string,
    @Arg("input", () => WebhookInput, { description: "the endpoint and its events" }) input: WebhookInput,
  ): Promise<WebhookCreated> {
    return this.service.create(userId, input);
  }

  @Mutation(() => Webhook, {
    description: "replaces a webhook's URL, events, format and note, and enables it again; the secret stays",
  })
  updateWebhook(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the webhook" }) id: string,
    @Arg("input", () => WebhookInput, { description: "its new settings" }) input: WebhookInput,
  ): Promise<Webhook> {
    return this.service.update(userId, id, input);
  }

  @Mutation(() => Boolean, {
    description: "deletes a webhook, its pending deliveries and its log; false when there was none",
  })
  deleteWebhook(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the webhook" }) id: string,
  ): Promise<boolean> {
    return this.service.delete(userId, id);
  }

  @Mutation(() => WebhookDelivery, {
    description: "sends a WEBHOOK_TEST event now, once (never retried), and answers the attempt",
  })
  testWebhook(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the webhook" }) id: string,
  ): Promise<WebhookDelivery> {
    return this.service.test(userId, id);
  }
}
