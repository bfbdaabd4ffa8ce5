import { createServer } from "node:net";
import {
  startRunpodSimulator,
  type RunpodSimulator,
  type RunpodSimulatorOptions,
} from "../../src/runpod-sim/runpod-simulator";
import { BudgetAlerts } from "../../src/supervision/budget-alerts";
import { PodSupervisor, type SupervisorOptions } from "../../src/supervision/pod-supervisor";
import type { TestDatabaseTarget } from "./database";
import { startTestGateway, type TestGateway } from "./gateway";

/** A port nobody listens on right now (the gateway must know its public URL before it listens). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface SimulatedSetup {
  t: TestGateway;
  sim: RunpodSimulator;
  /** Registers a simulator account and stores its key as `user`'s RunPod secret. */
  withRunpodKey(user: string): Promise<string>;
  /** A saved training config of `user`; returns its id. */
  newConfig(user: string, overrides?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real gateway whose upstream is a RunPod simulator on another port, reached over HTTP through the real
 * client (RUNPOD_API_URL). Background work is off unless asked for: tests drive the pod supervisor by hand.
 */
export async function startSimulatedGateway(
  options: {
    simulator?: RunpodSimulatorOptions;
    env?: Record<string, string | undefined>;
    background?: boolean;
    database?: TestDatabaseTarget;
    orphanGraceMs?: number;
    /** More tuning of the pod supervisor (its clock, say). */
    supervisor?: SupervisorOptions;
  } = {},
): Promise<SimulatedSetup> {
  const sim = await startRunpodSimulator({ trainer: false, autoAccountPrefix: null, ...options.simulator });
  let t: TestGateway;
  try {
    const port = await freePort();
    t = await startTestGateway({
      database: options.database,
      env: {
        RUNPOD_API_URL: sim.url,
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        ...options.env,
      },
      gatewayOptions: {
        background: options.background ?? false,
        supervisor: { orphanGraceMs: options.orphanGraceMs, ...options.supervisor },
      },
      port,
    });
  } catch (error) {
    // The caller never gets the simulator to close when the gateway fails to start.
    await sim.close();
    throw error;
  }
  return {
    t,
    sim,
    async withRunpodKey(user) {
      const { apiKey } = sim.addAccount();
      const res = await t.gql(
        user,
        `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
        {
          k: apiKey,
        },
      );
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      return apiKey;
    },
    async newConfig(user, overrides = {}) {
      const res = await t.gql<{ createTrainingConfig: { id: string } }>(
        user,
        `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
        {
          input: {
            name: "tiny llama",
            modelName: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
            datasetUrl: "https://example.com/alpaca.jsonl",
            hyperparameters: { loggingSteps: 5 },
            ...overrides,
          },
        },
      );
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.createTrainingConfig.id;
    },
    async close() {
      await t.close();
      await sim.close();
    },
  };
}

/** A supervisor of the same gateway with its own options (another clock, say: the gateway's own runs on the real one). */
export function supervisorOf(s: Pick<SimulatedSetup, "t">, options: SupervisorOptions): PodSupervisor {
  const { db, runpod, bus, logger, services } = s.t.gateway;
  return new PodSupervisor(
    {
      db: db.dataSource,
      runpod,
      secrets: services.secrets,
      deployments: services.deployments,
      alerts: new BudgetAlerts(db.dataSource, services.deployments, bus, logger),
      storedResults: (jobIds) => services.artifacts.completeJobIds(jobIds),
      logger,
    },
    options,
  );
}
