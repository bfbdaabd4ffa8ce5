import type { Logger } from "pino";
import type { LeaderLock } from "./leader";

export interface BackgroundTask {
  name: string;
  intervalMs: number;
  run(): Promise<unknown>;
}

/**
 * Runs periodic tasks on the leading replica only. A task never overlaps itself; a failing run is logged and
 * the next one comes on schedule. Every task runs once right at start, so a restarted gateway reconciles at once.
 */
export class BackgroundWorker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly leader: LeaderLock,
    private readonly tasks: readonly BackgroundTask[],
    private readonly logger: Logger,
    /** Told how every run ended and, for a run this replica made, how long it took (for /metrics). */
    private readonly onRun?: (
      task: string,
      outcome: "done" | "failed" | "not-leader",
      seconds?: number,
    ) => void,
  ) {}

  start(): void {
    for (const task of this.tasks) {
      void this.runOnce(task);
      const timer = setInterval(() => void this.runOnce(task), task.intervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Runs a task now (if this replica leads and it is not already running); resolves when it is done. */
  runOnce(task: BackgroundTask): Promise<void> {
    const inFlight = this.running.get(task.name);
    if (inFlight || this.stopped) return inFlight ?? Promise.resolve();
    const run = (async () => {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        if (!(await this.leader.isLeader())) {
          this.onRun?.(task.name, "not-leader");
          return;
        }
        const result = await task.run();
        this.onRun?.(task.name, "done", seconds());
        this.logger.debug({ task: task.name, result }, "background task done");
      } catch (error) {
        this.onRun?.(task.name, "failed", seconds());
        this.logger.error(
          { task: task.name, err: error instanceof Error ? error.message : String(error) },
          "background task failed",
        );
      } finally {
        this.running.delete(task.name);
      }
    })();
    this.running.set(task.name, run);
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.running.values());
    await this.leader.release();
  }
}
