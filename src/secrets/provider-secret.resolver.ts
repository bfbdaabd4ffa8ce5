import { Arg, Authorized, Mutation, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { Provider } from "./provider";
import { ProviderSecret } from "./provider-secret.entity";
import type { ProviderSecretService } from "./provider-secret.service";
import { ProviderSecretInput } from "./provider-secret.types";

@Authorized()
@Resolver(() => ProviderSecret)
export class ProviderSecretResolver {
  constructor(private readonly secrets: ProviderSecretService) {}

  @Query(() => [ProviderSecret], {
    description: "the caller's stored provider keys, shown only by their last 4 characters",
  })
  providerSecrets(@CurrentUser() userId: string): Promise<ProviderSecret[]> {
    return this.secrets.list(userId);
  }

  @Mutation(() => ProviderSecret, {
    description: "stores the provider key, encrypted; replaces an earlier one",
  })
  setProviderSecret(
    @CurrentUser() userId: string,
    @Arg("input", () => ProviderSecretInput, { description: "the provider and its key" })
    input: ProviderSecretInput,
  ): Promise<ProviderSecret> {
    return this.secrets.set(userId, input);
  }

  @Mutation(() => Boolean, { description: "true when a key was deleted, false when there was none" })
  deleteProviderSecret(
    @CurrentUser() userId: string,
    @Arg("provider", () => Provider, { description: "whose key to delete" }) provider: Provider,
  ): Promise<boolean> {
    return this.secrets.delete(userId, provider);
  }
}
