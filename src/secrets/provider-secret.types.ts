import { Matches, MaxLength, MinLength } from "class-validator";
import { Field, InputType } from "type-graphql";
import { Provider } from "./provider";

@InputType({ description: "a provider key to store" })
export class ProviderSecretInput {
  @Field(() => Provider, { description: "whose key it is" })
  provider: Provider;

  @Field({ description: "stored encrypted; only its last 4 characters are ever shown again" })
  @MinLength(8, { message: "apiKey is too short to be a provider key" })
  @MaxLength(1024)
  @Matches(/^[\x21-\x7e]+$/, { message: "apiKey must be printable ASCII without spaces" })
  apiKey: string;

  @Field(() => String, { description: "a note about the key, for the caller", nullable: true })
  @MaxLength(500)
  description?: string | null;
}
