/** The migrated database every test file's database is cloned from (PostgreSQL runs). */
export const TEMPLATE_DATABASE = "traingate_test_template";

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
