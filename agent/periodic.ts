// A task that runs, waits, and runs again until stopped (monitor probes): the wait starts after each run ends.
export class Periodic {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private task: () => Promise<void>, private delayMs: () => number) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    await this.task().catch(() => {});
    if (this.running) this.timer = setTimeout(() => void this.tick(), this.delayMs());
  }
}
