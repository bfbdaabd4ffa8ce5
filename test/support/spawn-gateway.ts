import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { untilLine } from "./eventually";
import { TEST_ENCRYPTION_KEY, TEST_JWT_SECRET } from "./gateway";

/** A gateway in its own process (test/support/gateway-process.ts), killable with -9, and its base URL. */
export interface GatewayProcess {
  child: ChildProcess;
  url: string;
}

/**
 * Starts test/support/gateway-process.ts with the test secrets, a simulated upstream and `env` (RUNPOD_API_URL
 * among them); resolves once it listens.
 */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    ["-r", path.join(__dirname, "register-ts.js"), path.join(__dirname, "gateway-process.ts")],
    {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: "test",
        JWT_SECRET: TEST_JWT_SECRET,
        ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        RUNPOD_API_SIMULATED: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  try {
    const [, url] = await untilLine(child.stdout, /^ready (\S+)/, "the gateway process to listen", {
      timeoutMs: 30_000,
      child,
    });
    // What it logs later is read and dropped, so a full pipe never stalls it.
    child.stdout.resume();
    return { child, url };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}
