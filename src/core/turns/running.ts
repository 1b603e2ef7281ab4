/** The abort reason of answers cut by a shutdown. */
const SHUTDOWN = Symbol('shutdown');
/** How long answers cut by a shutdown get to save what arrived and write their last edit. */
const DRAIN_SAVE_MS = 3_000;

/** One answer being written, as the turn holds it. */
export interface RunningAnswer {
  signal: AbortSignal;
  /** true when a shutdown, not the user, cut it short */
  cutByShutdown(): boolean;
  finished(): void;
}

/** The answers being written, per conversation: several users may be answered at once in a thread. */
export class RunningAnswers {
  private readonly active = new Map<number, Set<AbortController>>();

  start(conversationId: number): RunningAnswer {
    const controller = new AbortController();
    const running = this.active.get(conversationId) ?? new Set<AbortController>();
    running.add(controller);
    this.active.set(conversationId, running);
    return {
      signal: controller.signal,
      cutByShutdown: () => controller.signal.reason === SHUTDOWN,
      finished: () => {
        running.delete(controller);
        if (running.size === 0 && this.active.get(conversationId) === running) this.active.delete(conversationId);
      },
    };
  }

  /** Whether any answer is being written now. */
  get busy(): boolean {
    return this.active.size > 0;
  }

  /** Aborts the conversation's running answers; what arrived is kept. */
  stop(conversationId: number): boolean {
    const running = this.active.get(conversationId);
    for (const controller of running ?? []) controller.abort();
    return running !== undefined;
  }

  stopAll(): void {
    for (const running of this.active.values()) for (const controller of running) controller.abort();
  }

  /**
   * For a shutdown: lets the answers being written finish for up to `graceMs`, then cuts the
   * rest (kept as partial answers, with a note in the chat) and waits for them to be saved.
   */
  async drain(graceMs: number): Promise<{ finished: number; cut: number }> {
    const count = (): number => [...this.active.values()].reduce((n, running) => n + running.size, 0);
    const started = count();
    const settled = (deadline: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (count() === 0 || Date.now() >= deadline) return resolve();
          setTimeout(check, 25);
        };
        check();
      });
    await settled(Date.now() + graceMs);
    const cut = count();
    for (const running of this.active.values()) for (const controller of running) controller.abort(SHUTDOWN);
    // cut answers still save what arrived and write their last edit
    await settled(Date.now() + DRAIN_SAVE_MS);
    return { finished: started - cut, cut };
  }
}
