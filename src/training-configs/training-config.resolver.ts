import { Arg, Authorized, ID, Mutation, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { TrainingConfig } from "./training-config.entity";
import type { TrainingConfigService } from "./training-config.service";
import { TrainingConfigInput } from "./training-config.types";

@Authorized()
@Resolver(() => TrainingConfig)
export class TrainingConfigResolver {
  constructor(private readonly configs: TrainingConfigService) {}

  @Query(() => [TrainingConfig], { description: "the caller's saved training configs" })
  trainingConfigs(@CurrentUser() userId: string): Promise<TrainingConfig[]> {
    return this.configs.list(userId);
  }

  @Query(() => TrainingConfig, {
    description: "one of the caller's training configs; null when there is none with this id",
    nullable: true,
  })
  trainingConfig(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the config's id" }) id: string,
  ): Promise<TrainingConfig> {
    return this.configs.get(userId, id);
  }

  @Mutation(() => TrainingConfig, { description: "saves a new training config" })
  createTrainingConfig(
    @CurrentUser() userId: string,
    @Arg("input", () => TrainingConfigInput, { description: "the config" }) input: TrainingConfigInput,
  ): Promise<TrainingConfig> {
    return this.configs.create(userId, input);
  }

  @Mutation(() => TrainingConfig, {
    description: "replaces a training config; deployments made earlier keep their copy",
  })
  updateTrainingConfig(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the config to replace" }) id: string,
    @Arg("input", () => TrainingConfigInput, { description: "the new config" }) input: TrainingConfigInput,
  ): Promise<TrainingConfig> {
    return this.configs.update(userId, id, input);
  }

  @Mutation(() => Boolean, { description: "deletes a training config; true when it existed" })
  deleteTrainingConfig(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the config to delete" }) id: string,
  ): Promise<boolean> {
    return this.configs.delete(userId, id);
  }
}
