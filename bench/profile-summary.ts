/**
 * Prints where a V8 CPU profile spent its busy time:
 *   node -r ./test/support/register-ts.js bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { REPO_ROOT } from "./lib/children";
import { printProfile, summarizeProfile } from "./lib/profile";

const [file, top] = process.argv.slice(2);
if (!file) {
  console.error("usage: bench/profile-summary.ts <file.cpuprofile> [top]");
  process.exit(2);
}
printProfile(summarizeProfile(file, REPO_ROOT, Number(top ?? 25)));
