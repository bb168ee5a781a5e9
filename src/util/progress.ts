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

  /** Announces a phase of the work (compiling, checking, timing): always a line of its own. */
  phase(what: string): void {
    if (!this.enabled) return;
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}${what}\n`);
    this.last = Date.now();
  }

  done(): void {
    if (this.enabled && this.tty) process.stderr.write('\r\x1b[K');
  }
}
