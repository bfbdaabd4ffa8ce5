import { registerEnumType } from "type-graphql";
import {
  GPU_MEMORY_HEADROOM,
  GPU_MEMORY_POINTS,
  SPIKE_FACTOR,
  SPIKE_MIN_HISTORY,
  SPIKE_WINDOW,
  STALL_ALERT_MINUTES,
} from "./health-rules";

/** What a training-health alert is about. Each kind is raised at most once per deployment. */
export enum TrainingAlertKind {
  LOSS_NAN = "LOSS_NAN",
  LOSS_SPIKE = "LOSS_SPIKE",
  STALLED = "STALLED",
  GPU_MEMORY_HIGH = "GPU_MEMORY_HIGH",
  OUT_OF_MEMORY = "OUT_OF_MEMORY",
}

registerEnumType(TrainingAlertKind, {
  name: "TrainingAlertKind",
  description: "what a training-health alert is about; each is raised at most once per deployment",
  valuesConfig: {
    LOSS_NAN: { description: "the trainer reported a NaN or infinite loss, eval_loss or grad_norm" },
    LOSS_SPIKE: {
      description: `a loss above ${SPIKE_FACTOR}x the median of the last ${SPIKE_WINDOW} finite losses before it (judged after ${SPIKE_MIN_HISTORY})`,
    },
    STALLED: {
      description: `no metric from a RUNNING pod for ${STALL_ALERT_MINUTES} minutes, or for its stopAfterStallMinutes if shorter`,
    },
    GPU_MEMORY_HIGH: {
      description: `GPU memory within ${GPU_MEMORY_HEADROOM * 100} % of the pod's cards (memory x GPU count) for ${GPU_MEMORY_POINTS} points in a row`,
    },
    OUT_OF_MEMORY: { description: "the trainer failed with an out-of-memory error" },
  },
});
