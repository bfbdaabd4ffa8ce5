import { signDevToken } from "../auth/jwt";
import { ConfigError, loadConfig } from "../config/env";

/**
 * `npm run token -- <user> [ttl-days]`: prints a signed token for the configured `JWT_SECRET` (in embedded mode,
 * the one generated into DATA_DIR), for the playground, curl and the examples.
 */
async function main(): Promise<void> {
  const [user, ttlDays = "30"] = process.argv.slice(2);
  if (!user || user.length > 255) {
    console.error("usage: npm run token -- <user-id> [ttl-days]");
    process.exit(64);
  }
  const days = Number(ttlDays);
  if (!Number.isFinite(days) || days <= 0) {
    console.error("ttl-days must be a positive number");
    process.exit(64);
  }
  const config = loadConfig();
  if (config.jwt.kind !== "secret") {
    console.error("JWKS_URL is configured: tokens come from your identity provider, not from this command");
    process.exit(1);
  }
  const token = await signDevToken(config.jwt.secret, user, Math.round(days * 86400), {
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
