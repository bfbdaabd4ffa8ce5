import { Arg, Authorized, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { WebhookDelivery } from "./webhook-delivery.entity";
import { Webhook } from "./webhook.entity";
import { DEFAULT_DELIVERY_PAGE, type WebhookService } from "./webhook.service";
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
      description: "page size, 0 to 100",
      defaultValue: DEFAULT_DELIVERY_PAGE,
      nullable: true,
    })
    first: number | null,
    @Arg("after", () => String, {
      description: "the cursor of the last attempt already read",
      nullable: true,
    })
    after: string | null,
  ): Promise<WebhookDeliveryConnection> {
    return this.service.deliveries(userId, webhookId, first, after);
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
