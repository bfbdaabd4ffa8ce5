/**
 * Test databases are named after the jest run that made them (the main process's pid), so concurrent runs on
 * one server (a developer's and CI's) never touch each other's, and leftovers of dead runs can be told apart.
 */
export const runId = (): string => process.env.TRAINGATE_TEST_RUN ?? String(process.pid);

/** The migrated database every test file's database is cloned from (PostgreSQL runs). */
export const templateDatabase = (): string => `traingate_test_${runId()}_template`;

/** A name for one test database of this run. */
export const testDatabaseName = (suffix: string): string => `traingate_test_${runId()}_${suffix}`;

/** The pid of the run that made a test database, from its name. */
export const runOf = (database: string): number | undefined => {
  const match = /^traingate_test_(\d+)_/.exec(database);
  return match ? Number(match[1]) : undefined;
};

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
