import type { DataSource } from "typeorm";
import { User } from "./user.entity";

/** Users exist because a verified token named them; the row is created the first time they are seen. */
export class UserService {
  /** Ids known to have a row, so a busy user costs one insert per process, not one per request. */
  private readonly known = new Set<string>();

  constructor(private readonly db: DataSource) {}

  /** Inserts under way, so that a user's ten subscriptions opened at once make one insert, not ten. */
  private readonly inserting = new Map<string, Promise<void>>();

  async ensure(id: string): Promise<void> {
    if (this.known.has(id)) return;
    let insert = this.inserting.get(id);
    if (!insert) {
      insert = this.insert(id).finally(() => this.inserting.delete(id));
      this.inserting.set(id, insert);
    }
    await insert;
  }

  private async insert(id: string): Promise<void> {
    await this.db.createQueryBuilder().insert().into(User).values({ id }).orIgnore().execute();
    if (this.known.size >= 100_000) this.known.clear();
    this.known.add(id);
  }

  async get(id: string): Promise<User> {
    await this.ensure(id);
    return this.db.getRepository(User).findOneByOrFail({ id });
  }
}
