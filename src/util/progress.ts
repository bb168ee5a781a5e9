/** Progress for long work, on stderr (never stdout, which carries results and --json). */
export class Progress {
  private readonly tty = !!process.stderr.isTTY;
  private last = 0;
  constructor(private readonly enabled = true) {}

  /** Reports step i of n; on a terminal the line is rewritten, elsewhere printed at most 1/s. */
  step(i: number, n: number, what: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    const line = `[${i}/${n}] ${what}`;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (now - this.last >= 2000) {
      // Not a terminal (a log, CI): a line every 2 s at most.
      process.stderr.write(`${line}\n`);
      this.last = now;
    }
    if (this.tty) this.last = now;
  }

  done(): void {
    if (this.enabled && this.tty) process.stderr.write('\r\x1b[K');
  }
}
