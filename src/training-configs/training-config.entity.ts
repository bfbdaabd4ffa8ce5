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

/** A saved training recipe: which model, which data, which hyperparameters. */
@ObjectType()
@Entity("training_configs")
@Index("idx_training_configs_user_created", ["userId", "createdAt"])
export class TrainingConfig {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_training_configs" })
  id: string;

  @Column("text")
  userId: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_training_configs_user" })
  user?: User;

  @Field()
  @Column("text")
  name: string;

  @Field()
  @Column("text")
  modelName: string;

  @Field()
  @Column("text")
  datasetUrl: string;

  @Field(() => TrainingMethod)
  @Column("text")
  method: TrainingMethod;

  @Field(() => Hyperparameters)
  @Column("jsonb")
  hyperparameters: Hyperparameters;

  @Field()
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Field()
  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
