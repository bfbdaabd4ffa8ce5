import { Arg, Authorized, ID, Mutation, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { TrainingConfig } from "./training-config.entity";
import type { TrainingConfigService } from "./training-config.service";
import { TrainingConfigInput } from "./training-config.types";

@Authorized()
@Resolver(() => TrainingConfig)
export class TrainingConfigResolver {
  constructor(private readonly configs: TrainingConfigService) {}

  @Query(() => [TrainingConfig])
  trainingConfigs(@CurrentUser() userId: string): Promise<TrainingConfig[]> {
    return this.configs.list(userId);
  }

  @Query(() => TrainingConfig, { nullable: true })
  trainingConfig(@CurrentUser() userId: string, @Arg("id", () => ID) id: string): Promise<TrainingConfig> {
    return this.configs.get(userId, id);
  }

  @Mutation(() => TrainingConfig)
  createTrainingConfig(
    @CurrentUser() userId: string,
    @Arg("input", () => TrainingConfigInput) input: TrainingConfigInput,
  ): Promise<TrainingConfig> {
    return this.configs.create(userId, input);
  }

  @Mutation(() => TrainingConfig)
  updateTrainingConfig(
    @CurrentUser() userId: string,
    @Arg("id", () => ID) id: string,
    @Arg("input", () => TrainingConfigInput) input: TrainingConfigInput,
  ): Promise<TrainingConfig> {
    return this.configs.update(userId, id, input);
  }

  @Mutation(() => Boolean)
  deleteTrainingConfig(@CurrentUser() userId: string, @Arg("id", () => ID) id: string): Promise<boolean> {
    return this.configs.delete(userId, id);
  }
}
