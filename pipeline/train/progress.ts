/** Progress lines for long runs: step, loss, throughput and time left, at most every 2 seconds. */
export class Progress {
  private readonly start = performance.now();
  private lastPrint = this.start;
  private done_ = 0;
  constructor(
    private readonly log: (line: string) => void,
    private readonly label: string,
    private readonly totalSteps: number,
    private readonly pairsPerStep: number, // over every init of the run
    private readonly alreadyDone = 0, // steps finished before a resume
  ) {}

  /** `steps` more steps taken (by every init), the last of them step `at` - 1; `loss` the latest of init 0. */
  advance(steps: number, at: number, loss: number): void {
    this.done_ += steps;
    const now = performance.now();
    if (now - this.lastPrint < 2000) return;
    this.lastPrint = now;
    const elapsed = (now - this.start) / 1000;
    const rate = (this.done_ * this.pairsPerStep) / elapsed / 1e6;
    const total = this.alreadyDone + this.done_;
    const left = (elapsed / this.done_) * (this.totalSteps - total);
    this.log(
      `[${this.label}] step ${at} (${((100 * total) / this.totalSteps).toFixed(0)}%) ` +
        `loss ${loss.toFixed(5)}  ${rate.toFixed(1)} M pairs/s  ${formatDuration(left)} left`,
    );
  }

  done(): void {
    const elapsed = (performance.now() - this.start) / 1000;
    this.log(`[${this.label}] trained ${this.done_} steps in ${formatDuration(elapsed)}`);
  }
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(r).padStart(2, '0')}s`;
}
