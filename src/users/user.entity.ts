import { Field, ID, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";

/** A user is whoever a verified token's `sub` names; the row is created the first time they are seen. */
@ObjectType()
@Entity("users")
export class User {
  @Field(() => ID)
  @PrimaryColumn({ type: "text", primaryKeyConstraintName: "pk_users" })
  id: string;

  @Field()
  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
