import { Field, ID, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { Node } from "../relay/node.types";

/** A user is whoever a verified token's `sub` names; the row is created the first time they are seen. */
@ObjectType({ implements: Node, description: "an authenticated caller" })
@Entity("users")
export class User {
  @Field(() => ID, { description: "the caller's id (the token's subject)" })
  @PrimaryColumn({ type: "text", primaryKeyConstraintName: "pk_users" })
  id: string;

  @Field({ description: "when the gateway first saw the caller" })
  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
