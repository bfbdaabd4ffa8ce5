/**
 * The models the RunPod simulator builds for its local pods (`RUNPOD_SIMULATOR_TRAINER=real`; built by
 * `src/runpod-sim/local_models.py`, served by the simulator's Hub stand-in). They exist on this machine only:
 * no pod that loads from the Hugging Face Hub can train them.
 */
export const LOCAL_MODEL_IDS = ["traingate/tiny-random-llama"] as const;

/** The synthetic dataset of the local models (served by the simulator's Hub stand-in). */
export const LOCAL_DATASET_URL = "hf://datasets/traingate/tiny-arithmetic";
