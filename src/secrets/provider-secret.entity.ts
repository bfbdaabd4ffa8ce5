import { Field, ObjectType } from "type-graphql";
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
import { Provider } from "./provider";

/**
 * A provider API key, encrypted at rest. Only `last4` and the metadata are GraphQL fields; the ciphertext
 * and its key version never leave the server.
 */
@ObjectType("ProviderSecretInfo", { description: "a stored provider key, without the key itself" })
@Entity("provider_secrets")
@Index("uq_provider_secrets_user_provider", ["userId", "provider"], { unique: true })
export class ProviderSecret {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_provider_secrets" })
  id: string;

  @Column("text")
  userId: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_provider_secrets_user" })
  user?: User;

  @Field(() => Provider, { description: "whose key it is" })
  @Column("text")
  provider: Provider;

  @Column("text")
  apiKeyEncrypted: string;

  @Column("text")
  keyVersion: string;

  @Field({ description: "the key's last 4 characters" })
  @Column("text")
  last4: string;

  @Field(() => String, { description: "the caller's note about the key", nullable: true })
  @Column("text", { nullable: true })
  description: string | null;

  @Field({ description: "when the key was first stored" })
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Field({ description: "when the key was last replaced" })
  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
