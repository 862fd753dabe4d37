/**
 * A one-line progress bar with the loss and steps/s. On a terminal it redraws in place; when
 * the output is a pipe or a file (CI, tests) it prints only the final line, so logs stay short.
 */
export class ProgressBar {
  readonly #started = performance.now();
  #drawnAt = 0;
  #done = 0;
  #loss = NaN;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  /** One step done, with that step's loss. */
  tick(loss: number): void {
    this.#done++;
    // An exponential moving average: a minibatch loss alone jumps around too much to read.
    this.#loss = Number.isNaN(this.#loss) ? loss : 0.9 * this.#loss + 0.1 * loss;
    const now = performance.now();
    if (this.out.isTTY && now - this.#drawnAt > 80) {
      this.#drawnAt = now;
      this.out.write(`\r${this.#line(now)}`);
    }
  }

  finish(): void {
    const line = this.#line(performance.now());
    this.out.write(this.out.isTTY ? `\r${line}\n` : `${line}\n`);
  }

  #line(now: number): string {
    const width = 24;
    const filled = Math.round((width * this.#done) / this.total);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const seconds = (now - this.#started) / 1000;
    const rate = seconds > 0 ? this.#done / seconds : 0;
    const count = `${this.#done}/${this.total}`.padStart(2 * String(this.total).length + 1);
    return `  ${this.label.padEnd(22)} ${bar} ${count}  loss ${this.#loss.toFixed(4)}  ${rate.toFixed(0).padStart(4)} steps/s`;
  }
}
