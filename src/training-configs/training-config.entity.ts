import { Field, ID, ObjectType } from "type-graphql";
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from "typeorm";
import { User } from "../users/user.entity";
import { TrainingMethod } from "./training-config.enums";
import { Hyperparameters } from "./training-config.types";
import { Node } from "../relay/node.types";

/** A saved training recipe: which model, which data, which hyperparameters. */
@ObjectType({
  implements: Node,
  description: "a saved recipe for a training run: model, data, method and hyperparameters",
})
@Entity("training_configs")
@Index("idx_training_configs_user_created", ["userId", "createdAt"])
export class TrainingConfig {
  @Field(() => ID, { description: "the config's id" })
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_training_configs" })
  id: string;

  @Column("text")
  userId: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_training_configs_user" })
  user?: User;

  @Field({ description: "the caller's name for it" })
  @Column("text")
  name: string;

  @Field({ description: "the Hugging Face id of the base model" })
  @Column("text")
  modelName: string;

  @Field({ description: "where the training data comes from" })
  @Column("text")
  datasetUrl: string;

  @Field(() => TrainingMethod, { description: "how the model is fine-tuned" })
  @Column("text")
  method: TrainingMethod;

  @Field(() => Hyperparameters, { description: "the hyperparameters, defaults filled in" })
  @Column("jsonb")
  hyperparameters: Hyperparameters;

  @Field({ description: "when the config was created" })
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Field({ description: "when the config last changed" })
  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
