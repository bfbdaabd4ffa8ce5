/** Connection-level failures: the database is down or unreachable, not a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, driverError } = error as Error & { code?: string; driverError?: { code?: string } };
  const sqlState = driverError?.code ?? code ?? "";
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|57P0[1-3]|3D000|08\d\d\d)$/.test(sqlState) ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|database has been closed|PGlite is closed|embedded database busy/i.test(
      error.message,
    )
  );
}
