import {
  startRunpodSimulator,
  type RunpodSimulator,
  type RunpodSimulatorOptions,
} from "../runpod-sim/runpod-simulator";
import { createLogger } from "./logger";
import { createGateway, type Gateway, type GatewayOptions } from "./app";

export interface StartOptions extends GatewayOptions {
  /** Options of the built-in simulator, when RUNPOD_SIMULATOR=true. */
  simulator?: RunpodSimulatorOptions;
}

/** A gateway, and the built-in RunPod simulator in front of it when the configuration asks for one. */
export type StartedGateway = Gateway & { readonly simulator?: RunpodSimulator };

/**
 * The gateway as the entry points run it (`npm start`, the demo, tests that want the simulator): with
 * `RUNPOD_SIMULATOR=true` the simulator starts first and the gateway talks to it over HTTP like to RunPod.
 * app.ts knows nothing of the simulator; only entry points import it.
 */
export async function startGateway(options: StartOptions): Promise<StartedGateway> {
  const { simulator: simulatorOptions, ...gatewayOptions } = options;
  if (!options.config.runpodSimulator) return createGateway(gatewayOptions);
  const logger = options.logger ?? createLogger(options.config.logLevel);
  const simulator = await startRunpodSimulator({
    speedFactor: options.config.simulatorSpeed,
    logger: logger.child({ component: "runpod-simulator" }),
    ...simulatorOptions,
  });
  logger.info({ url: simulator.url, speedFactor: simulator.speedFactor }, "RunPod simulator started");
  if (options.config.simulatorTrainer === "real") {
    logger.warn(
      "RUNPOD_SIMULATOR_TRAINER=real is not implemented yet: simulated pods run the simulated trainer",
    );
  }
  try {
    const gateway = await createGateway({ ...gatewayOptions, logger, upstream: simulator });
    return Object.assign(gateway, { simulator });
  } catch (error) {
    await simulator.close();
    throw error;
  }
}
