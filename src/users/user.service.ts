import type { DataSource } from "typeorm";
import { User } from "./user.entity";

/** Users exist because a verified token named them; the row is created the first time they are seen. */
export class UserService {
  /** Ids known to have a row, so a busy user costs one insert per process, not one per request. */
  private readonly known = new Set<string>();

  constructor(private readonly db: DataSource) {}

  async ensure(id: string): Promise<void> {
    if (this.known.has(id)) return;
    await this.db.createQueryBuilder().insert().into(User).values({ id }).orIgnore().execute();
    if (this.known.size >= 100_000) this.known.clear();
    this.known.add(id);
  }

  async get(id: string): Promise<User> {
    await this.ensure(id);
    return this.db.getRepository(User).findOneByOrFail({ id });
  }
}
