import path from "node:path";
import {
  startRunpodSimulator,
  type RunpodSimulator,
  type RunpodSimulatorOptions,
} from "../runpod-sim/runpod-simulator";
import { podVenvPython } from "../runpod-sim/local-pod";
import { trainerScriptsDir } from "../trainer/pod-bootstrap";
import type { Config } from "../config/env";
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
 * With `RUNPOD_SIMULATOR_TRAINER=real` its pods are local processes running the real trainer-scripts on CPU
 * with the pod venv (created on first use), and the gateway's Hub lookups go to the simulator's Hub stand-in,
 * which knows the local models. app.ts knows nothing of the simulator; only entry points import it.
 */
export async function startGateway(options: StartOptions): Promise<StartedGateway> {
  const { simulator: simulatorOptions, ...gatewayOptions } = options;
  if (!options.config.runpodSimulator) return createGateway(gatewayOptions);
  const logger = options.logger ?? createLogger(options.config.logLevel);
  const simLogger = logger.child({ component: "runpod-simulator" });
  let localPods = simulatorOptions?.localPods;
  if (localPods === undefined && options.config.simulatorTrainer === "real") {
    logger.info("RUNPOD_SIMULATOR_TRAINER=real: preparing the pod venv (trainer-scripts/pod-venv.sh)");
    const python = await podVenvPython(trainerScriptsDir(), (line) => simLogger.info(line));
    localPods = {
      python,
      root: path.join(options.config.dataDir, "local-pods"),
      // Points reach the dashboard every second instead of every five.
      env: { TRAINGATE_METRICS_FLUSH_SECONDS: "1" },
    };
  }
  const simulator = await startRunpodSimulator({
    speedFactor: options.config.simulatorSpeed,
    logger: simLogger,
    ...simulatorOptions,
    ...(localPods ? { localPods } : {}),
  });
  logger.info(
    { url: simulator.url, speedFactor: simulator.speedFactor, localPods: localPods !== undefined },
    "RunPod simulator started",
  );
  // Local pods load only the local models; the Hub stand-in knows their sizes, and nothing goes to the network.
  const config: Config = localPods
    ? Object.freeze({
        ...options.config,
        hubEndpoint: simulator.hubUrl,
        localModels: simulator.localModelIds,
      })
    : options.config;
  try {
    const gateway = await createGateway({ ...gatewayOptions, config, logger, upstream: simulator });
    return Object.assign(gateway, { simulator });
  } catch (error) {
    await simulator.close();
    throw error;
  }
}
