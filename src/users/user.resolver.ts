import { Authorized, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { User } from "./user.entity";
import type { UserService } from "./user.service";

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly users: UserService) {}

  @Authorized()
  @Query(() => User, { description: "the authenticated caller" })
  me(@CurrentUser() userId: string): Promise<User> {
    return this.users.get(userId);
  }
}
