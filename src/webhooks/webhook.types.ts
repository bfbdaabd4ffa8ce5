import { ArrayMaxSize, ArrayMinSize, ArrayUnique, MaxLength } from "class-validator";
import { Field, InputType, ObjectType } from "type-graphql";
import { PageInfo } from "../deployments/deployment.types";
import { WebhookDelivery } from "./webhook-delivery.entity";
import { Webhook } from "./webhook.entity";
import { WebhookEvent, WebhookFormat } from "./webhook.enums";

@InputType({ description: "an endpoint to send events to" })
export class WebhookInput {
  @Field({
    description:
      "where events are POSTed: https:// (http:// outside production); refused when it resolves to a loopback, " +
      "private, link-local or metadata address unless WEBHOOK_ALLOW_PRIVATE=true",
  })
  @MaxLength(2048)
  url: string;

  @Field(() => [WebhookEvent], { description: "the events to send, at least one" })
  @ArrayMinSize(1, { message: "events must name at least one event" })
  @ArrayMaxSize(20)
  @ArrayUnique({ message: "events must not repeat an event" })
  events: WebhookEvent[];

  @Field(() => WebhookFormat, {
    description: "the request body's shape",
    defaultValue: WebhookFormat.JSON,
    nullable: true,
  })
  format?: WebhookFormat | null;

  @Field(() => String, { description: "a note about the webhook, for the caller", nullable: true })
  @MaxLength(500)
  description?: string | null;
}

@ObjectType({ description: "a new webhook and its signing secret, which is never shown again" })
export class WebhookCreated {
  @Field(() => Webhook, { description: "the webhook" })
  webhook: Webhook;

  @Field({
    description:
      "the secret that signs every delivery (X-TrainGate-Signature, HMAC-SHA256); store it now: it is shown only here",
  })
  signingSecret: string;
}

@ObjectType({ description: "one delivery attempt in a page of the log, with its cursor" })
export class WebhookDeliveryEdge {
  @Field({ description: "pass as `after` to read the attempts after this one" })
  cursor: string;

  @Field(() => WebhookDelivery, { description: "the attempt" })
  node: WebhookDelivery;
}

@ObjectType({ description: "a page of a webhook's delivery log, newest attempt first" })
export class WebhookDeliveryConnection {
  @Field(() => [WebhookDeliveryEdge], { description: "the attempts of this page" })
  edges: WebhookDeliveryEdge[];

  @Field(() => PageInfo, { description: "where the page ends and whether more follow" })
  pageInfo: PageInfo;
}
