import { Authorized, Query, Resolver } from "type-graphql";
import { CurrentUser } from "../auth/context";
import { User } from "./user.entity";
import type { UserService } from "./user.service";

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly users: UserService) {}

  @Authorized()
  @Query(() => User)
  me(@CurrentUser() userId: string): Promise<User> {
    return this.users.get(userId);
  }
}
